import { Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import { startChildren, stopAll, type ChildServer } from '../harness/child';
import type { BenchContext } from '../harness/context';
import { httpRequest } from '../harness/http';
import { fmt, verdict, type ScenarioResult, type Table } from '../harness/report';
import { countsDelta } from '../harness/sandbox';
import { median, percentile } from '../harness/stats';
import { recordKey, type StoredTokenRecord } from '../servers/common';
import { prepareUser, runnerVault, TOKEN_CLIENT_REDIRECT, vaultSettings, type PreparedUser } from './users';

/** Access token lifetime (seconds) of the users prepared for the storms: they expire before the storm. */
const SHORT_LIFETIME_S = 2;
const DEFAULT_LIFETIME_S = 7200;

type SideKey = 'vault' | 'refresh';
type Variant = 'token' | 'use';

const VARIANTS: Record<Variant, { path: string; label: string }> = {
  token: { path: '/api/data', label: 'get a valid token' },
  use: { path: '/api/me', label: 'get it and call /v2/users/me' },
};
const SIDES: Record<SideKey, string> = {
  refresh: 'passport-oauth2-refresh (baseline)',
  vault: 'token vault (ours)',
};

interface Storm {
  side: SideKey;
  variant: Variant;
  requests: number;
  ok: number;
  failures: number;
  statuses: Record<string, number>;
  tokenCalls: number;
  tokenFailures: number;
  userinfoCalls: number;
  p50: number;
  p99: number;
  wallMs: number;
}

/**
 * Scenario 2: N concurrent requests for one user whose access token has just expired, spread over
 * W worker processes sharing Redis. Ours must call the token endpoint exactly once and fail none.
 * Baseline: passport-oauth2-refresh, each request refreshing on its own. Two variants: the route
 * only needs a valid token, or it also uses it at /v2/users/me, which (Doorkeeper rotation)
 * revokes the refresh token every other request is still refreshing with.
 */
export async function refreshStorm(ctx: BenchContext): Promise<ScenarioResult> {
  const { stormSize, stormWorkers, rounds } = ctx.settings;
  const client = await ctx.sandbox.registerClient([TOKEN_CLIENT_REDIRECT]);
  const vault = runnerVault(ctx, client);

  // One fresh user per storm, signed in with a short-lived access token that expires before the storm.
  const plan: { side: SideKey; variant: Variant; warmup: boolean }[] = [];
  for (const side of ['vault', 'refresh'] as const) plan.push({ side, variant: 'token', warmup: true });
  for (let round = 0; round < rounds; round++) {
    for (const variant of ['token', 'use'] as const) {
      const sides: SideKey[] = round % 2 === 0 ? ['refresh', 'vault'] : ['vault', 'refresh'];
      for (const side of sides) plan.push({ side, variant, warmup: false });
    }
  }
  const users: PreparedUser[] = [];
  await ctx.sandbox.setLifetimes({ accessToken: SHORT_LIFETIME_S });
  try {
    for (const step of plan) {
      const user = await prepareUser(ctx, client);
      if (step.side === 'vault') await vault.saveTokens(user.uid, user.tokenSet);
      else {
        const record: StoredTokenRecord = { accessToken: user.tokenSet.accessToken, refreshToken: user.tokenSet.refreshToken ?? '', expiresAt: user.tokenSet.expiresAt };
        await ctx.redis.client.set(recordKey(ctx.prefix, user.uid), JSON.stringify(record), 'PX', 30 * 60 * 1000);
      }
      users.push(user);
    }
  } finally {
    // Refreshed tokens get the normal lifetime again.
    await ctx.sandbox.setLifetimes({ accessToken: DEFAULT_LIFETIME_S });
  }

  const shared = { prefix: ctx.prefix, sessionSecret: ctx.sessionSecret };
  const indexes = Array.from({ length: stormWorkers }, (_, i) => i);
  const servers = await startChildren([
    ...indexes.map((i) => ({ script: 'protected.ts', name: `vault-worker-${i}`, config: { ...shared, mode: 'fractal', vault: vaultSettings(ctx, client) } })),
    ...indexes.map((i) => ({ script: 'oauth2-refresh.ts', name: `refresh-worker-${i}`, config: { ...shared, ...client, domains: ctx.sandbox.domains } })),
  ]);
  const workers: Record<SideKey, ChildServer[]> = { vault: servers.slice(0, stormWorkers), refresh: servers.slice(stormWorkers) };
  try {
    // Every prepared access token must have expired (the workers' start-up usually took longer).
    const latest = Math.max(...users.map((u) => u.tokenSet.expiresAt));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, latest - Date.now() + 100)));

    const storms: Storm[] = [];
    for (const [i, step] of plan.entries()) {
      const user = users[i] as PreparedUser;
      const storm = await runStorm(ctx, workers[step.side], step.side, step.variant, user.cookie, stormSize);
      ctx.log(
        `  ${step.warmup ? 'warm-up' : 'storm'} ${SIDES[step.side]}, ${VARIANTS[step.variant].label}: ${storm.tokenCalls} token calls ` +
          `(${storm.tokenFailures} refused), ${storm.failures} failed requests, p99 ${fmt.ms(storm.p99)} ms`,
      );
      if (!step.warmup) storms.push(storm);
    }

    const rows: string[][] = [];
    const summary: Record<string, unknown> = {};
    for (const variant of ['token', 'use'] as const) {
      for (const side of ['refresh', 'vault'] as const) {
        const mine = storms.filter((s) => s.side === side && s.variant === variant);
        summary[`${side}/${variant}`] = { storms: mine, p99: median(mine.map((s) => s.p99)) };
        rows.push([
          `${SIDES[side]}: ${VARIANTS[variant].label}`,
          mine.map((s) => String(s.tokenCalls)).join(' / '),
          mine.map((s) => String(s.tokenFailures)).join(' / '),
          mine.map((s) => String(s.failures)).join(' / '),
          fmt.ms(median(mine.map((s) => s.p50))),
          fmt.ms(median(mine.map((s) => s.p99))),
        ]);
      }
    }
    const table: Table = {
      title: `2. Refresh storm: ${fmt.int(stormSize)} concurrent requests, one user, token just expired, ${stormWorkers} worker processes (per storm, ${rounds} storms per row)`,
      columns: ['variant', 'token-endpoint calls', 'refused (invalid_grant)', 'failed requests', 'p50 ms (median)', 'p99 ms (median)'],
      rows,
    };
    const ours = storms.filter((s) => s.side === 'vault');
    const base = storms.filter((s) => s.side === 'refresh');
    const failureStatuses = (list: Storm[]) => {
      const all: Record<string, number> = {};
      for (const s of list) for (const [k, n] of Object.entries(s.statuses)) if (k !== '200') all[k] = (all[k] ?? 0) + n;
      return JSON.stringify(all);
    };
    return {
      id: 2,
      title: 'Refresh storm',
      tables: [table],
      verdicts: [
        verdict('token-endpoint calls per storm == 1', ours.map((s) => s.tokenCalls).join(' / '), ours.length > 0 && ours.every((s) => s.tokenCalls === 1)),
        verdict('failed requests per storm == 0', ours.map((s) => s.failures).join(' / '), ours.length > 0 && ours.every((s) => s.failures === 0)),
      ],
      notes: [
        'Each storm uses a new user whose access token expired (real expiry at the sandbox); requests go round-robin to the worker processes, which share Redis (sessions, tokens).',
        'Sandbox rotation (Doorkeeper): the old refresh token stays valid until a new access token is used, so uncoordinated refreshes all succeed while nobody uses a token, and start failing with invalid_grant once one does.',
        `Baseline failed requests by status: ${failureStatuses(base)}; ours: ${failureStatuses(ours)}.`,
      ],
      data: { stormSize, stormWorkers, summary },
    };
  } finally {
    await stopAll(servers);
  }
}

async function runStorm(ctx: BenchContext, workers: ChildServer[], side: SideKey, variant: Variant, cookie: string, size: number): Promise<Storm> {
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const before = await ctx.sandbox.counts();
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: size }, async (_, i) => {
      const worker = workers[i % workers.length] as ChildServer;
      const t0 = performance.now();
      try {
        const answer = await httpRequest(`${worker.url}${VARIANTS[variant].path}`, { agent, headers: { cookie, accept: 'application/json' }, timeoutMs: 60_000 });
        return { status: answer.status, ms: performance.now() - t0 };
      } catch {
        return { status: 0, ms: performance.now() - t0 };
      }
    }),
  );
  const wallMs = performance.now() - started;
  agent.destroy();
  const d = countsDelta(before, await ctx.sandbox.counts());
  const statuses: Record<string, number> = {};
  for (const r of results) statuses[String(r.status)] = (statuses[String(r.status)] ?? 0) + 1;
  const ok = statuses['200'] ?? 0;
  const latencies = results.map((r) => r.ms);
  return {
    side,
    variant,
    requests: size,
    ok,
    failures: size - ok,
    statuses,
    tokenCalls: d.refresh + d.failed,
    tokenFailures: d.failed,
    userinfoCalls: d.userinfo,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    wallMs,
  };
}
