/**
 * Scenarios 1 and 4: a JSON route behind a signed-in session.
 * - `bare`: Express 5 JSON route, nothing else (reference point);
 * - `baseline`: express-session + connect-redis + passport session, `req.isAuthenticated()` check;
 * - `fractal`: the same plus the token vault: `vault.require()` and `req.fractal.getAccessToken()`;
 *   the token store with its defaults (a per-process record cache since issue 16; `cacheTtlMs` overrides).
 * - `kyc`: the same vault plus `createFractalKyc({ vault })` and `kyc.requireKyc('basic')` on the
 *   route; `kycCache: 'redis'` uses a `RedisKycCache` (shared by processes) instead of the default.
 * Routes: GET /api/data (the measured route), GET /api/me (fractal only: the token used at
 * /v2/users/me, for the refresh storm), POST /webhooks/kyc-changed (kyc only: what a verification
 * webhook's `handleWebhookEvent` does, for the scenario's invalidation check).
 */
import express from 'express';
import { loadFractal, loadTokens } from '../harness/dist';
import { connectRedis } from '../harness/redis';
import { fatal, readConfig, serveHttp } from '../harness/serve';
import { sessionStack, userId, type AppConfig } from './common';

export interface ProtectedConfig extends AppConfig {
  mode: 'bare' | 'baseline' | 'fractal' | 'kyc';
  /** `kyc` mode: where decisions are cached. Default: `createFractalKyc`'s own default. */
  kycCache?: 'default' | 'redis';
  vault?: {
    encryptionKey: string;
    clientID: string;
    clientSecret: string;
    domains: { frontend: string; auth: string; resource: string };
    cacheTtlMs?: number;
  };
}

async function main(): Promise<void> {
  const config = readConfig<ProtectedConfig>();
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (config.mode === 'bare') {
    app.get('/api/data', (_req, res) => {
      res.json({ user: 'anonymous', ok: true });
    });
    await serveHttp(app);
    return;
  }

  const redis = await connectRedis(`bench-${config.mode}`);
  const { middleware } = sessionStack(redis.client, config);
  app.use(middleware);

  if (config.mode === 'baseline') {
    app.get('/api/data', (req, res) => {
      if (!req.isAuthenticated()) {
        res.status(401).json({ error: 'authentication_required' });
        return;
      }
      res.json({ user: userId(req), ok: true });
    });
  } else {
    const vaultConfig = config.vault;
    if (!vaultConfig) throw new Error(`${config.mode} mode needs vault settings`);
    const { createFractalVault, RedisTokenStore } = loadTokens();
    // The store's defaults, unless a variant sets cacheTtlMs.
    const store = new RedisTokenStore({ client: redis.client, prefix: `${config.prefix}tokens:`, ...(vaultConfig.cacheTtlMs === undefined ? {} : { cacheTtlMs: vaultConfig.cacheTtlMs }) });
    const vault = createFractalVault({
      store,
      encryptionKeys: [vaultConfig.encryptionKey],
      clientID: vaultConfig.clientID,
      clientSecret: vaultConfig.clientSecret,
      domains: vaultConfig.domains,
    });
    app.use(vault.middleware());
    if (config.mode === 'kyc') {
      const { createFractalKyc, RedisKycCache } = loadFractal();
      const cache = config.kycCache === 'redis' ? new RedisKycCache({ client: redis.client, prefix: `${config.prefix}kyc:` }) : undefined;
      const kyc = createFractalKyc({ vault, cache });
      app.get('/api/data', kyc.requireKyc('basic'), (req, res) => {
        res.json({ user: userId(req), ok: true });
      });
      app.post('/webhooks/kyc-changed', express.json(), async (req, res) => {
        const uid = String((req.body as { user_id?: unknown }).user_id);
        const event = { type: 'verification_approved', known: true, stale: false, deliveryId: `bench-${Date.now()}`, receivedAt: new Date(), data: { level: 'basic', user_id: uid, timestamp: new Date().toISOString() } } as const;
        res.json({ handled: await kyc.handleWebhookEvent(event) });
      });
    } else {
      app.get('/api/data', vault.require(), async (req, res) => {
        const token = await req.fractal?.getAccessToken();
        res.json({ user: userId(req), ok: token !== undefined });
      });
    }
    app.get('/api/me', vault.require(), async (req, res) => {
      const me = await req.fractal?.fetchUser();
      res.json({ user: userId(req), ok: me?.uid === userId(req) });
    });
  }
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const status = (err as { status?: unknown }).status;
    res.status(typeof status === 'number' ? status : 500).json({ error: (err as { code?: string }).code ?? 'error' });
  });
  await serveHttp(app, { handlers: { redisSent: () => redis.sent() }, cleanup: () => redis.close() });
}

main().catch(fatal);
