import { startChildren, stopAll, type ChildServer } from '../harness/child';
import type { BenchContext } from '../harness/context';
import { httpRequest, postJson } from '../harness/http';
import { runAutocannon } from '../harness/load';
import { fmt, ratioText, throughputTable, verdict, type ScenarioResult, type Table } from '../harness/report';
import { alternate, pairedRatios, withServerCpu } from '../harness/rounds';
import { countsDelta } from '../harness/sandbox';
import { sum } from '../harness/stats';
import { countRoundTrips } from './protected-route';
import { prepareUser, runnerVault, TOKEN_CLIENT_REDIRECT, vaultSettings } from './users';

/** Issue 16, target 2: a KYC-gated route within 5 % of the session-only app. */
const TARGET_RATIO = 0.95;
/** `basic` needs these scopes (`user-integration/oauth-2.0-scopes.md`). */
const SCOPES = ['uid:read', 'verification.basic:read'];

/**
 * Scenario 6: the protected-route baseline (express-session + connect-redis + passport) against
 * the same app with the token vault and `kyc.requireKyc('basic')` for an approved user: once with
 * `createFractalKyc({ vault })` defaults, once with a `RedisKycCache` (what several processes use,
 * so that one webhook invalidates all). Before measuring, the scenario checks that the guard
 * refuses the pending user, and lets them through once the sandbox approves them and a
 * verification webhook invalidated the cached decision.
 */
export async function kycRoute(ctx: BenchContext): Promise<ScenarioResult> {
  const client = await ctx.sandbox.registerClient([TOKEN_CLIENT_REDIRECT]);
  const user = await prepareUser(ctx, client, SCOPES);
  await runnerVault(ctx, client).saveTokens(user.uid, user.tokenSet);
  const base = { prefix: ctx.prefix, sessionSecret: ctx.sessionSecret };
  // A/B of two builds: the third server runs another build's defaults instead of the RedisKycCache.
  const against = process.env.BENCH_KYC_AGAINST;
  const servers = await startChildren([
    { script: 'protected.ts', name: 'baseline', config: { ...base, mode: 'baseline' } },
    { script: 'protected.ts', name: 'kyc', config: { ...base, mode: 'kyc', vault: vaultSettings(ctx, client) } },
    against
      ? { script: 'protected.ts', name: 'kyc-against', config: { ...base, mode: 'kyc', vault: vaultSettings(ctx, client) }, env: { BENCH_DIST: against } }
      : { script: 'protected.ts', name: 'kyc-redis', config: { ...base, mode: 'kyc', kycCache: 'redis', vault: vaultSettings(ctx, client) } },
  ]);
  const [baseline, ours, oursRedis] = servers as [ChildServer, ChildServer, ChildServer];
  try {
    const headers = { cookie: user.cookie, accept: 'application/json' };
    const get = (server: ChildServer) => httpRequest(`${server.url}/api/data`, { headers });
    for (const server of [ours, oursRedis]) {
      const pending = await get(server);
      if (pending.status !== 403 || !pending.body.includes('kyc_required')) throw new Error(`${server.name}: a pending user got ${pending.status} ${pending.body}`);
    }
    await ctx.sandbox.setVerification(user.uid, 'basic', { status: 'done', credential: 'approved' });
    for (const server of [ours, oursRedis]) {
      await postJson(`${server.url}/webhooks/kyc-changed`, { user_id: user.uid });
      const approved = await get(server);
      if (approved.status !== 200) throw new Error(`${server.name}: the approved user got ${approved.status} ${approved.body} after the webhook`);
    }
    const baseAnswer = await get(baseline);
    if (baseAnswer.status !== 200) throw new Error(`baseline: /api/data answered ${baseAnswer.status}`);

    const side = (key: string, label: string, server: ChildServer) => ({
      key,
      label,
      measure: withServerCpu(server, (seconds) => runAutocannon({ url: `${server.url}/api/data`, connections: ctx.settings.connections, duration: seconds, headers })),
    });
    const countsBefore = await ctx.sandbox.counts();
    const summaries = await alternate(
      [
        side('baseline', 'session + connect-redis + passport (baseline)', baseline),
        side('kyc', "baseline + vault + kyc.requireKyc('basic') (defaults)", ours),
        side('kyc-redis', against ? `the same, build ${against} (A/B: its verdict below is about that build's defaults)` : 'the same with a RedisKycCache', oursRedis),
      ],
      { ...ctx.settings, log: ctx.log },
    );
    const trips = { baseline: await countRoundTrips(ctx, baseline, headers), kyc: await countRoundTrips(ctx, ours, headers), redis: await countRoundTrips(ctx, oursRedis, headers) };
    const provider = countsDelta(countsBefore, await ctx.sandbox.counts());
    const [b, k, r] = summaries as [(typeof summaries)[0], (typeof summaries)[0], (typeof summaries)[0]];
    const paired = pairedRatios(b, k);
    const pairedRedis = pairedRatios(b, r);
    const total = (counts: Record<string, number>) => sum(Object.values(counts));
    const extra = (t: { commandstats: Record<string, number> }) => total(t.commandstats) - total(trips.baseline.commandstats);
    const describe = (counts: Record<string, number>) =>
      Object.entries(counts)
        .sort(([x], [y]) => x.localeCompare(y))
        .map(([name, n]) => `${name} ${fmt.per(n)}`)
        .join(', ');
    const redisTable: Table = {
      title: `6b. Redis commands per request (${fmt.int(ctx.settings.countRequests)} requests per side)`,
      columns: ['variant', 'INFO commandstats delta / request', 'sent by the server process / request', 'extra over the baseline'],
      rows: [
        ['baseline', describe(trips.baseline.commandstats), describe(trips.baseline.sent), ''],
        ['kyc (defaults)', describe(trips.kyc.commandstats), describe(trips.kyc.sent), fmt.per(extra(trips.kyc))],
        ['kyc, RedisKycCache', describe(trips.redis.commandstats), describe(trips.redis.sent), fmt.per(extra(trips.redis))],
      ],
    };
    return {
      id: 6,
      title: 'KYC-gated route',
      tables: [
        throughputTable(`6. KYC-gated route: autocannon ${ctx.settings.connections} connections, medians of ${ctx.settings.rounds} x ${ctx.settings.seconds} s`, summaries, 'req/s', true),
        redisTable,
      ],
      chart: [
        { label: '6. KYC-gated route (defaults)', ratio: paired.median, target: TARGET_RATIO },
        { label: '6. KYC-gated route, RedisKycCache', ratio: pairedRedis.median, target: TARGET_RATIO },
      ],
      verdicts: [
        verdict(`KYC-gated route throughput ratio >= ${TARGET_RATIO} (createFractalKyc defaults)`, ratioText(paired, k.rps / b.rps), paired.median >= TARGET_RATIO && k.failed === 0),
        verdict(`KYC-gated route throughput ratio >= ${TARGET_RATIO} with a RedisKycCache`, ratioText(pairedRedis, r.rps / b.rps), pairedRedis.median >= TARGET_RATIO && r.failed === 0),
      ],
      notes: [
        'The user is approved for `basic`; the decision was cached after a verification webhook invalidated the pending one (checked before measuring: 403 kyc_required, then 200).',
        `Provider reads (/v2/users/me at the sandbox) during the measurement: ${provider.userinfo} for ${fmt.int(sum(summaries.flatMap((s) => s.rounds.map((x) => x.ok))))} answered requests (a read per cache expiry at most).`,
      ],
      data: { summaries, ratio: paired.median, redisRatio: pairedRedis.median, roundTrips: trips, providerReads: provider.userinfo },
    };
  } finally {
    await stopAll(servers);
  }
}
