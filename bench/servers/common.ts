import type { RequestHandler } from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import passport from 'passport';
import type { Cluster, Redis } from 'ioredis';

/** What every app server gets from the runner (BENCH_CONFIG). */
export interface AppConfig {
  mode: string;
  /** Key prefix of this run; everything is deleted at the end. */
  prefix: string;
  sessionSecret: string;
}

export const SESSION_COOKIE = 'sid';

export interface BenchUser {
  id: string;
}

/**
 * The session stack every protected app (baseline and ours) shares, as a user would write it:
 * express-session with connect-redis 8 on ioredis, and passport 0.7 sessions.
 */
export function sessionStack(client: Redis | Cluster, config: AppConfig): { auth: passport.Authenticator; middleware: RequestHandler[] } {
  const auth = new passport.Passport();
  auth.serializeUser((user, done) => done(null, user));
  auth.deserializeUser((user: Express.User, done) => done(null, user));
  const middleware: RequestHandler[] = [
    session({
      store: new RedisStore({ client, prefix: `${config.prefix}sess:` }),
      secret: config.sessionSecret,
      name: SESSION_COOKIE,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 30 * 60 * 1000, sameSite: 'lax' },
    }),
    auth.session(),
  ];
  return { auth, middleware };
}

export function userId(req: { user?: Express.User }): string | undefined {
  const id = (req.user as Partial<BenchUser> | undefined)?.id;
  return typeof id === 'string' ? id : undefined;
}

/** What the refresh-storm baseline app (passport-oauth2-refresh) stores per user, as plain JSON. */
export interface StoredTokenRecord {
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
}

export const recordKey = (prefix: string, uid: string): string => `${prefix}oauth2-tokens:${uid}`;
