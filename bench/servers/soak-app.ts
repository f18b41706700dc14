/**
 * One process of the soak (bench/soak/): the example app itself (example-app/app.ts), on the
 * compiled library in dist/ (`passport-fractal-id` resolves to this package's own `exports`),
 * wired like example-app/server.ts but to the soak's shared sandbox and private Redis instead of
 * a sandbox of its own. Four of these share sessions, token vault, KYC cache and webhook store.
 */
import { Redis } from 'ioredis';
import type { Express } from 'express';
import { fatal, readConfig, serveHttp } from '../harness/serve';
import { loadFractal } from '../harness/dist';

export interface SoakAppConfig {
  port: number;
  /** What the sandbox redirects to; the soak driver plays the load balancer in front of all four. */
  baseURL: string;
  redisURL: string;
  sessionSecret: string;
  tokenEncryptionKey: string;
  webhookSecret: string;
  clientID: string;
  clientSecret: string;
  domains: { frontend: string; auth: string; resource: string };
}

async function main(): Promise<void> {
  const config = readConfig<SoakAppConfig>();
  // The example app's modules import `passport-fractal-id`: this package's name, so Node resolves
  // it through package.json `exports` to dist/ (built by `npm run soak`).
  const { createApp } = require('../../example-app/app') as typeof import('../../example-app/app');
  const { loadConfig } = require('../../example-app/config') as typeof import('../../example-app/config');
  const appConfig = loadConfig({
    PORT: String(config.port),
    BASE_URL: config.baseURL,
    SESSION_SECRET: config.sessionSecret,
    REDIS_URL: config.redisURL,
    TOKEN_ENCRYPTION_KEY: config.tokenEncryptionKey,
    FRACTAL_ENV: 'sandbox',
  });
  // As example-app/server.ts: fail fast instead of queueing while Redis is down.
  const redis = new Redis(config.redisURL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000 });
  redis.on('error', () => undefined);
  const { RedisTokenStore } = loadFractal();
  const tokenStore = new RedisTokenStore({ client: redis, prefix: 'example:tokens:', cacheTtlMs: 5000 });
  const errors: Record<string, number> = {};
  const app: Express = createApp({
    config: appConfig,
    clientID: config.clientID,
    clientSecret: config.clientSecret,
    domains: config.domains,
    redis,
    tokenStore,
    webhookSecret: config.webhookSecret,
    // Counted, not printed: a soak logs thousands of expected 503s while Redis restarts.
    log: (line) => {
      const key = line.replace(/:.*$/, '');
      errors[key] = (errors[key] ?? 0) + 1;
    },
  });
  await serveHttp(app, {
    port: config.port,
    handlers: { logs: () => ({ ...errors }) },
    cleanup: async () => {
      await tokenStore.close();
      redis.disconnect();
    },
  });
}

main().catch(fatal);
