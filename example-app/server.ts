import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisTokenStore } from 'passport-fractal-id';
import { startSandbox } from 'passport-fractal-id/sandbox';
import { createApp } from './app';
import { ConfigError, loadConfig } from './config';
import { SessionStreams } from './streams';

async function main(): Promise<void> {
  const config = loadConfig();
  let clientID = config.clientID;
  let clientSecret = config.clientSecret;
  let domains = config.domains;
  let closeSandbox: (() => Promise<void>) | undefined;
  let webhookSecret = config.webhookSecret;

  if (config.mode === 'sandbox') {
    // Zero-setup development: a local Fractal ID on loopback, with this app registered in it.
    // FRACTAL_SANDBOX_RESPONSE_SHAPE=minimal: /v2/users/me in the docs' example shapes (no case id
    // or credential, combined levels), to see the app cope with what the provider documents.
    const responseShape = process.env.FRACTAL_SANDBOX_RESPONSE_SHAPE === 'minimal' ? 'minimal' : 'full';
    const sandbox = await startSandbox({ responseShape });
    closeSandbox = () => sandbox.close();
    const registered = sandbox.registerClient({ redirectUris: [`${config.baseURL}/auth/fractal/callback`], name: 'Example app' });
    clientID = registered.clientID;
    clientSecret = registered.clientSecret;
    domains = { ...sandbox.domains, ...config.domains };
    // The sandbox signs its webhooks with this app's secret and delivers them like the provider.
    webhookSecret ??= randomBytes(20).toString('hex');
    sandbox.setWebhooks({ url: `${config.baseURL}/webhooks/fractal`, secrets: webhookSecret });
    console.log(`Fractal ID sandbox: ${sandbox.domains.frontend} (auth ${sandbox.domains.auth}, resource ${sandbox.domains.resource})`);
  }
  if (config.generatedSessionSecret) console.log('SESSION_SECRET is not set: using a random one, so sessions end when the app restarts.');

  let redis: Redis | undefined;
  if (config.redisURL) {
    // Fail fast instead of queueing forever while Redis is down (see README, "Redis").
    redis = new Redis(config.redisURL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000 });
    redis.on('error', (err) => console.error(`Redis: ${err.message}`));
  }

  // cacheTtlMs: a request with a fresh token costs no Redis round trip; other processes' logouts
  // and refreshes still arrive through the store's change notifications (README, RedisTokenStore).
  const tokenStore = redis ? new RedisTokenStore({ client: redis, prefix: 'example:tokens:', cacheTtlMs: 5000 }) : undefined;
  const sessionStreams = new SessionStreams(redis ? { redis } : {});
  const app = createApp({
    config,
    sessionStreams,
    clientID: clientID!,
    clientSecret: clientSecret!,
    domains,
    ...(redis ? { redis } : {}),
    ...(tokenStore ? { tokenStore } : {}),
    ...(webhookSecret ? { webhookSecret } : {}),
  });
  const server = app.listen(config.port, () => {
    console.log(`Example app: ${config.baseURL}`);
  });
  const shutdown = () => {
    server.close();
    void closeSandbox?.();
    void tokenStore?.close();
    sessionStreams.close();
    // Redis last: the webhook store sends the done marks still waiting first.
    void Promise.resolve((app.locals.closeFractal as (() => Promise<void>) | undefined)?.())
      .catch(() => undefined)
      .finally(() => redis?.disconnect());
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(`Configuration error: ${err.message}`);
  } else {
    console.error(err instanceof Error ? err.message : err);
  }
  process.exit(1);
});
