/**
 * Scenario 5: POST /webhooks/fractal with a 1 KiB JSON body.
 * - `json`: `express.json()` and a 200 answer, nothing verified (the baseline);
 * - `fractal`: `fractalWebhooks({ secrets, onEvent })` with its defaults (HMAC-SHA1 over the raw
 *   bytes, typed event, in-memory idempotency and ordering store);
 * - `fractal-redis`: the same with a `RedisWebhookStore`;
 * - `fractal-against`: the defaults of another build (`against`, a `dist/` directory), for a
 *   paired A/B of two builds in one run (`BENCH_WEBHOOKS_AGAINST`); with `store: 'redis'`, that
 *   build's `RedisWebhookStore` (`BENCH_WEBHOOKS_AB_STORE=redis`).
 */
import { join } from 'node:path';
import express from 'express';
import { loadWebhooks } from '../harness/dist';
import { connectRedis, type CountingRedis } from '../harness/redis';
import { fatal, readConfig, serveHttp } from '../harness/serve';

export interface WebhookConfig {
  mode: 'json' | 'fractal' | 'fractal-redis' | 'fractal-against';
  secret: string;
  /** Key prefix of this run (`fractal-redis`). */
  prefix?: string;
  /** `fractal-against`: the other build's `dist/` directory. */
  against?: string;
  /** `fractal-against`: that build's `RedisWebhookStore` instead of its default store. */
  store?: 'redis';
}

async function main(): Promise<void> {
  const config = readConfig<WebhookConfig>();
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  let handled = 0;
  let redis: CountingRedis | undefined;
  if (config.mode === 'json') {
    app.post('/webhooks/fractal', express.json({ limit: '64kb' }), (req, res) => {
      if (typeof (req.body as { type?: unknown } | undefined)?.type === 'string') handled++;
      res.json({ received: true });
    });
  } else {
    const lib = config.mode === 'fractal-against' ? (require(join(config.against ?? '', 'webhooks')) as typeof import('../../lib/webhooks')) : loadWebhooks();
    const { fractalWebhooks, RedisWebhookStore } = lib;
    if (config.mode === 'fractal-redis' || config.store === 'redis') redis = await connectRedis('bench-webhooks');
    const store = redis ? new RedisWebhookStore({ client: redis.client, prefix: `${config.prefix ?? 'bench:'}webhooks:`, ...(process.env.BENCH_CLUSTER_SLOTS ? { clusterSlots: Number(process.env.BENCH_CLUSTER_SLOTS) } : {}) }) : undefined;
    app.post(
      '/webhooks/fractal',
      fractalWebhooks({
        secrets: config.secret,
        store,
        onEvent: () => {
          handled++;
        },
      }),
    );
  }
  await serveHttp(app, { handlers: { handled: () => handled, redisSent: () => redis?.sent() ?? {} }, cleanup: () => redis?.close() });
}

main().catch(fatal);
