/**
 * Scenario 3: a complete sign-in (start -> sandbox /authorize -> callback: code exchange, profile,
 * session saved) with sessions in Redis.
 * - `oauth2`: passport-oauth2's OAuth2Strategy configured by hand for the sandbox (state + PKCE,
 *   profile from /v2/users/me), the baseline;
 * - `fractal`: FractalStrategy.
 * GET /auth/start redirects to the sandbox; GET /auth/callback answers 200 JSON once signed in.
 */
import express from 'express';
import { Strategy as OAuth2Strategy } from 'passport-oauth2';
import type { Strategy } from 'passport';
import { loadFractal } from '../harness/dist';
import { postJson } from '../harness/http';
import { connectRedis } from '../harness/redis';
import { fatal, readConfig, serveHttp } from '../harness/serve';
import { sessionStack, userId, type AppConfig } from './common';

export interface LoginConfig extends AppConfig {
  mode: 'oauth2' | 'fractal';
  domains: { frontend: string; auth: string; resource: string };
}

async function main(): Promise<void> {
  const config = readConfig<LoginConfig>();
  const redis = await connectRedis(`bench-login-${config.mode}`);
  const { auth, middleware } = sessionStack(redis.client, config);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(middleware);
  let strategyName = '';
  app.get('/auth/start', (req, res, next) => auth.authenticate(strategyName)(req, res, next));
  app.get('/auth/callback', (req, res, next) => auth.authenticate(strategyName, { failureRedirect: '/auth/failed' })(req, res, next), (req, res) => {
    res.json({ user: userId(req), ok: true });
  });
  app.get('/auth/failed', (_req, res) => {
    res.status(401).json({ ok: false });
  });
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ error: (err as { code?: string }).code ?? String(err) });
  });

  await serveHttp(app, {
    handlers: { redisSent: () => redis.sent() },
    cleanup: () => redis.close(),
    prepare: async (port) => {
      const callbackURL = `http://127.0.0.1:${port}/auth/callback`;
      const client = await postJson<{ clientID: string; clientSecret: string }>(`${config.domains.auth}/_sandbox/clients`, {
        redirectUris: [callbackURL],
        name: `Benchmark ${config.mode}`,
      });
      const strategy = config.mode === 'fractal' ? fractalStrategy(config, client, callbackURL) : oauth2Strategy(config, client, callbackURL);
      strategyName = strategy.name ?? config.mode;
      auth.use(strategy);
      return { strategy: strategy.name };
    },
  });
}

function fractalStrategy(config: LoginConfig, client: { clientID: string; clientSecret: string }, callbackURL: string): Strategy {
  const { FractalStrategy } = loadFractal();
  return new FractalStrategy({ ...client, callbackURL, domains: config.domains, scope: 'uid:read' }, async (_accessToken, _refreshToken, _params, profile) => ({
    id: profile.id,
  }));
}

/** What a developer writes without this library (passport-oauth2's documented extension points). */
function oauth2Strategy(config: LoginConfig, client: { clientID: string; clientSecret: string }, callbackURL: string): Strategy {
  const strategy = new OAuth2Strategy(
    {
      authorizationURL: `${config.domains.frontend}/authorize`,
      tokenURL: `${config.domains.auth}/oauth/token`,
      ...client,
      callbackURL,
      scope: 'uid:read',
      state: true,
      pkce: true,
    },
    (_accessToken: string, _refreshToken: string, profile: { id: string }, done: (err: unknown, user?: Express.User) => void) => done(null, { id: profile.id }),
  );
  strategy.name = 'oauth2';
  const oauth2 = (strategy as unknown as { _oauth2: { useAuthorizationHeaderforGET(on: boolean): void; get(url: string, token: string, cb: (err: unknown, body?: string | Buffer) => void): void } })._oauth2;
  oauth2.useAuthorizationHeaderforGET(true);
  strategy.userProfile = (accessToken: string, done: (err?: unknown, profile?: unknown) => void) => {
    oauth2.get(`${config.domains.resource}/v2/users/me`, accessToken, (err, body) => {
      if (err) {
        done(new Error('failed to fetch the Fractal ID profile'));
        return;
      }
      try {
        const json = JSON.parse(String(body)) as { uid?: unknown };
        if (typeof json.uid !== 'string') throw new Error('no uid');
        done(null, { provider: 'fractal', id: json.uid, _json: json });
      } catch (parseErr) {
        done(parseErr);
      }
    });
  };
  return strategy;
}

main().catch(fatal);
