import { randomBytes } from 'node:crypto';
import { startChildren, stopAll, type ChildServer } from '../harness/child';
import type { BenchContext } from '../harness/context';
import { loadWebhooks } from '../harness/dist';
import { httpRequest } from '../harness/http';
import { runAutocannon } from '../harness/load';
import { fmt, ratioText, throughputTable, verdict, type ScenarioResult } from '../harness/report';
import { delta } from '../harness/redis';
import { alternate, pairedRatios, withServerCpu } from '../harness/rounds';
import { sum } from '../harness/stats';

const PAYLOAD_BYTES = 1024;
/** Issue 16, target 3: within 10 % of a route that only parses JSON... */
const TARGET = 0.9;
/** ...with one Redis round trip per delivery (claim, ordering and done mark together). */
const TARGET_ROUND_TRIPS = 1;

/**
 * Scenario 5: verified webhook deliveries per second, 1 KiB bodies, against a route that only parses
 * JSON. Every delivery is a new event (its own user and timestamp), so ours really verifies, claims
 * and records each one instead of answering "duplicate".
 */
export async function webhooks(ctx: BenchContext): Promise<ScenarioResult> {
  const secret = randomBytes(32).toString('hex');
  const { signFractalWebhook } = loadWebhooks();
  let counter = 0;
  const nextBody = deliveryFactory();
  // A/B of two builds: the third server runs another build's defaults instead of the Redis store.
  const against = process.env.BENCH_WEBHOOKS_AGAINST;
  // ... and with BENCH_WEBHOOKS_AB_STORE=redis, both builds with a RedisWebhookStore (ours as the second server).
  const abRedis = against !== undefined && process.env.BENCH_WEBHOOKS_AB_STORE === 'redis';
  const servers = await startChildren([
    { script: 'webhooks.ts', name: 'webhooks-json', config: { mode: 'json', secret } },
    abRedis
      ? { script: 'webhooks.ts', name: 'webhooks-fractal-redis', config: { mode: 'fractal-redis', secret, prefix: ctx.prefix } }
      : { script: 'webhooks.ts', name: 'webhooks-fractal', config: { mode: 'fractal', secret } },
    against
      ? { script: 'webhooks.ts', name: 'webhooks-fractal-against', config: { mode: 'fractal-against', secret, against, prefix: `${ctx.prefix}against:`, ...(abRedis ? { store: 'redis' } : {}) } }
      : { script: 'webhooks.ts', name: 'webhooks-fractal-redis', config: { mode: 'fractal-redis', secret, prefix: ctx.prefix } },
  ]);
  const [baseline, ours, oursRedis] = servers as [ChildServer, ChildServer, ChildServer];
  try {

    // Sanity: both accept a signed delivery; ours refuses a bad signature.
    for (const server of servers) {
      const body = nextBody(counter++);
      const answer = await httpRequest(`${server.url}/webhooks/fractal`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-fractal-signature': signFractalWebhook(secret, body) },
        body,
      });
      if (answer.status !== 200) throw new Error(`${server.name} refused a signed delivery: ${answer.status} ${answer.body}`);
    }
    for (const server of [ours, oursRedis]) {
      const forged = await httpRequest(`${server.url}/webhooks/fractal`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-fractal-signature': `sha1=${'0'.repeat(40)}` },
        body: nextBody(counter++),
      });
      if (forged.status < 400 || forged.status >= 500) throw new Error(`${server.name} did not refuse a forged signature (${forged.status})`);
    }

    const setupRequest = (request: { headers?: Record<string, string> }) => {
      const body = nextBody(counter++);
      return { ...request, method: 'POST', body, headers: { ...request.headers, 'content-type': 'application/json', 'x-fractal-signature': signFractalWebhook(secret, body) } };
    };
    const side = (key: string, label: string, server: ChildServer) => ({
      key,
      label,
      measure: withServerCpu(server, (seconds) =>
        runAutocannon({ url: `${server.url}/webhooks/fractal`, method: 'POST', connections: ctx.settings.connections, duration: seconds, setupRequest }),
      ),
    });
    const handledBefore = await ours.request<number>('handled');
    const summaries = await alternate(
      [
        side('json', 'express.json() route, no verification', baseline),
        side('fractal', abRedis ? 'fractalWebhooks() with a RedisWebhookStore (A/B: not the defaults)' : 'fractalWebhooks() verified + idempotent + ordered (defaults: in-memory store)', ours),
        side('fractal-redis', against ? `the same, build ${against} (A/B; its verdicts below are about that build${abRedis ? '' : ', without Redis'})` : 'the same with a RedisWebhookStore', oursRedis),
      ],
      { ...ctx.settings, log: ctx.log },
    );
    const handled = (await ours.request<number>('handled')) - handledBefore;
    // Round trips per delivery: what the Redis-store server sent, over a counted batch of deliveries.
    const sentBefore = await oursRedis.request<Record<string, number>>('redisSent');
    const counted = await runAutocannon({ url: `${oursRedis.url}/webhooks/fractal`, method: 'POST', connections: ctx.settings.connections, amount: ctx.settings.countRequests, setupRequest });
    const sent = delta(sentBefore, await oursRedis.request<Record<string, number>>('redisSent'));
    const deliveries = counted.ok + counted.failed;
    const tripsPerDelivery = deliveries > 0 ? sum(Object.values(sent)) / deliveries : Number.NaN;
    const tripsText = Object.entries(sent)
      .sort(([x], [y]) => x.localeCompare(y))
      .map(([name, n]) => `${name} ${fmt.per(n / deliveries)}`)
      .join(', ');
    const [base, fractal, fractalRedis] = summaries as [(typeof summaries)[0], (typeof summaries)[0], (typeof summaries)[0]];
    const paired = pairedRatios(base, fractal);
    const pairedRedis = pairedRatios(base, fractalRedis);
    const ratio = paired.median;
    const ratioOfMedians = fractal.rps / base.rps;
    const oursOk = fractal.rounds.reduce((n, r) => n + r.ok, fractal.warmup?.ok ?? 0);
    const table = throughputTable(`5. Webhook verification: ${PAYLOAD_BYTES} B JSON deliveries, autocannon ${ctx.settings.connections} connections, medians of ${ctx.settings.rounds} x ${ctx.settings.seconds} s`, summaries, 'deliveries/s', true);
    return {
      id: 5,
      title: 'Webhook verification',
      tables: [table],
      chart: [
        { label: '5. webhooks (defaults)', ratio, target: TARGET },
        { label: '5. webhooks, RedisWebhookStore', ratio: pairedRedis.median, target: TARGET },
      ],
      verdicts: [
        verdict(`webhook throughput ratio >= ${TARGET} (defaults)`, ratioText(paired, ratioOfMedians), ratio >= TARGET && fractal.failed === 0),
        verdict(`webhook throughput ratio >= ${TARGET} with a RedisWebhookStore`, ratioText(pairedRedis, fractalRedis.rps / base.rps), pairedRedis.median >= TARGET && fractalRedis.failed === 0),
        verdict(`Redis round trips per delivery <= ${TARGET_ROUND_TRIPS} (RedisWebhookStore)`, `${fmt.per(tripsPerDelivery)} (${tripsText}; ${fmt.int(deliveries)} deliveries, ${counted.failed} failed)`, tripsPerDelivery <= TARGET_ROUND_TRIPS + 0.01 && counted.failed === 0),
      ],
      notes: [
        `Every delivery is a distinct signed event (own user_id and timestamp), so each one is verified, claimed, ordered and handled: onEvent ran ${fmt.int(handled)} times for ${fmt.int(oursOk)} deliveries counted as accepted (warm-up included; requests in flight when a round ends are handled but not counted).`,
        'Both sides receive the same bodies and headers from the same generator (signing happens in the load generator for both).',
      ],
      data: { payloadBytes: PAYLOAD_BYTES, summaries, ratio, ratioOfMedians, redisRatio: pairedRedis.median, handled, redisSentPerDelivery: sent, deliveriesCounted: deliveries, tripsPerDelivery },
    };
  } finally {
    await stopAll(servers);
  }
}

/**
 * Bodies of exactly PAYLOAD_BYTES bytes: a verification_approved event of user `n`, padded with an
 * extra field. Also the load of bench/tools/webhook-threads.ts.
 */
export function deliveryFactory(): (n: number) => string {
  const make = (n: number, pad: string) =>
    JSON.stringify({
      type: 'verification_approved',
      data: {
        level: 'basic',
        user_id: `bench-user-${n.toString(36).padStart(10, '0')}`,
        // Now: the middleware refuses events older than its replay window.
        timestamp: new Date().toISOString(),
        note: pad,
      },
    });
  const padLength = PAYLOAD_BYTES - Buffer.byteLength(make(0, ''));
  const pad = 'x'.repeat(padLength);
  return (n) => make(n, pad);
}
