/**
 * Scenario 2 baseline: the same protected routes, with tokens refreshed the common way, through
 * passport-oauth2-refresh on a hand-configured passport-oauth2 strategy: each request that finds
 * the access token expired refreshes it itself (no coordination between requests or processes)
 * and writes the result back. Tokens are kept as plain JSON in Redis (the app's user store).
 * Routes: GET /api/data (a valid token), GET /api/me (the token used at /v2/users/me).
 */
import express, { type Request, type Response } from 'express';
import { Strategy as OAuth2Strategy } from 'passport-oauth2';
import refresh from 'passport-oauth2-refresh';
import { connectRedis } from '../harness/redis';
import { fatal, readConfig, serveHttp } from '../harness/serve';
import { recordKey, sessionStack, userId, type AppConfig, type StoredTokenRecord } from './common';

export interface RefreshConfig extends AppConfig {
  clientID: string;
  clientSecret: string;
  domains: { frontend: string; auth: string; resource: string };
}

async function main(): Promise<void> {
  const config = readConfig<RefreshConfig>();
  const redis = await connectRedis('bench-oauth2-refresh');
  const strategy = new OAuth2Strategy(
    {
      authorizationURL: `${config.domains.frontend}/authorize`,
      tokenURL: `${config.domains.auth}/oauth/token`,
      clientID: config.clientID,
      clientSecret: config.clientSecret,
      callbackURL: 'http://127.0.0.1:1/unused',
      state: true,
      pkce: true,
    },
    (_accessToken: string, _refreshToken: string, profile: { id: string }, done: (err: unknown, user?: Express.User) => void) => done(null, { id: profile.id }),
  );
  refresh.use('fractal', strategy);

  const { middleware } = sessionStack(redis.client, config);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(middleware);

  /** A valid access token, refreshing when expired; answers the failure itself and returns undefined. */
  const validToken = async (req: Request, res: Response): Promise<string | undefined> => {
    const uid = userId(req);
    if (!req.isAuthenticated() || uid === undefined) {
      res.status(401).json({ error: 'authentication_required' });
      return undefined;
    }
    const raw = await redis.client.get(recordKey(config.prefix, uid));
    if (raw === null) {
      res.status(401).json({ error: 'no_tokens' });
      return undefined;
    }
    const record = JSON.parse(raw) as StoredTokenRecord;
    if (record.expiresAt > Date.now()) return record.accessToken;
    try {
      const next = await new Promise<StoredTokenRecord>((resolve, reject) => {
        refresh.requestNewAccessToken('fractal', record.refreshToken, (err, accessToken, refreshToken, results) => {
          if (err || !accessToken) {
            reject(err ?? new Error('no access token'));
            return;
          }
          const expiresIn = Number(results?.expires_in ?? 7200);
          resolve({ accessToken, refreshToken: refreshToken ?? record.refreshToken, expiresAt: Date.now() + expiresIn * 1000 });
        });
      });
      await redis.client.set(recordKey(config.prefix, uid), JSON.stringify(next));
      return next.accessToken;
    } catch (err) {
      // What an app can do when the refresh is refused: send the user to sign in again.
      res.status(401).json({ error: 'refresh_failed', status: (err as { statusCode?: number }).statusCode });
      return undefined;
    }
  };

  app.get('/api/data', async (req, res) => {
    const token = await validToken(req, res);
    if (token !== undefined) res.json({ user: userId(req), ok: true });
  });
  app.get('/api/me', async (req, res) => {
    const token = await validToken(req, res);
    if (token === undefined) return;
    const answer = await fetch(`${config.domains.resource}/v2/users/me`, { headers: { authorization: `Bearer ${token}` } });
    const me = (await answer.json().catch(() => ({}))) as { uid?: string };
    if (!answer.ok) {
      res.status(502).json({ error: 'resource_rejected_token', status: answer.status });
      return;
    }
    res.json({ user: userId(req), ok: me.uid === userId(req) });
  });
  await serveHttp(app, { cleanup: () => redis.close() });
}

main().catch(fatal);
