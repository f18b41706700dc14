import { Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import { startChildren, stopAll, type ChildServer } from '../harness/child';
import type { BenchContext } from '../harness/context';
import { cookieFrom, httpRequest } from '../harness/http';
import type { LoadSample } from '../harness/load';
import { fmt, ratioText, throughputTable, verdict, type ScenarioResult } from '../harness/report';
import { alternate, pairedRatios, withServerCpu } from '../harness/rounds';
import { delta } from '../harness/redis';
import { countsDelta } from '../harness/sandbox';
import { percentile } from '../harness/stats';
import { SESSION_COOKIE } from '../servers/common';

/** Issue 16, target 4: sign-in stays within 5 % of the hand-configured strategy. */
const TARGET = 0.95;
const MAX_SIGN_INS_PER_RUN = 200_000;

/**
 * Scenario 3: complete sign-ins per second. Each virtual user loops: GET /auth/start (302 to the
 * sandbox) -> GET the sandbox's /authorize (auto-approve: 302 to the callback) -> GET the callback
 * (code exchange, /v2/users/me, passport login with session regeneration, session saved in Redis).
 */
export async function loginCycle(ctx: BenchContext): Promise<ScenarioResult> {
  const shared = { prefix: ctx.prefix, sessionSecret: ctx.sessionSecret, domains: ctx.sandbox.domains };
  const servers = await startChildren([
    { script: 'login.ts', name: 'login-oauth2', config: { ...shared, mode: 'oauth2' } },
    { script: 'login.ts', name: 'login-fractal', config: { ...shared, mode: 'fractal' } },
  ]);
  const [baseline, ours] = servers as [ChildServer, ChildServer];
  try {
    for (const server of servers) {
      const one = await signInLoop(server.url, 1, 0, 1);
      if (one.ok !== 1) throw new Error(`${server.name}: a sign-in did not complete`);
    }
    // Redis commands per sign-in (sessions, and our state and callback guard when they use Redis).
    const redisPerSignIn: Record<string, string> = {};
    for (const server of servers) {
      const before = await server.request<Record<string, number>>('redisSent');
      const counted = await signInLoop(server.url, 1, 0, 20);
      const sent = delta(before, await server.request<Record<string, number>>('redisSent'));
      redisPerSignIn[server.name] = Object.entries(sent)
        .sort(([x], [y]) => x.localeCompare(y))
        .map(([name, n]) => `${name} ${fmt.per(n / counted.ok)}`)
        .join(', ');
    }

    const providerCalls: Record<string, { signIns: number; code: number; userinfo: number; sandboxCpuUs: number }> = {};
    const side = (key: string, label: string, server: ChildServer) => ({
      key,
      label,
      measure: async (seconds: number) => {
        const before = await ctx.sandbox.counts();
        const sandboxCpu = await ctx.sandbox.child.request<NodeJS.CpuUsage>('cpu');
        const sample = await withServerCpu(server, (s) => signInLoop(server.url, ctx.settings.loginConcurrency, s))(seconds);
        const sandboxCpuAfter = await ctx.sandbox.child.request<NodeJS.CpuUsage>('cpu');
        const d = countsDelta(before, await ctx.sandbox.counts());
        providerCalls[key] ??= { signIns: 0, code: 0, userinfo: 0, sandboxCpuUs: 0 };
        const acc = providerCalls[key];
        acc.signIns += sample.ok;
        acc.sandboxCpuUs += sandboxCpuAfter.user + sandboxCpuAfter.system - sandboxCpu.user - sandboxCpu.system;
        acc.code += d.code;
        acc.userinfo += d.userinfo;
        return sample;
      },
    });
    const summaries = await alternate(
      [side('oauth2', 'passport-oauth2 OAuth2Strategy (by hand)', baseline), side('fractal', 'FractalStrategy', ours)],
      { ...ctx.settings, log: ctx.log },
    );
    const [base, fractal] = summaries as [(typeof summaries)[0], (typeof summaries)[0]];
    const paired = pairedRatios(base, fractal);
    const ratio = paired.median;
    const ratioOfMedians = fractal.rps / base.rps;
    const per = (key: string) => {
      const c = providerCalls[key];
      return c && c.signIns > 0
        ? `${fmt.per(c.code / c.signIns)} code exchanges, ${fmt.per(c.userinfo / c.signIns)} profile fetches and ${fmt.int(c.sandboxCpuUs / c.signIns)} µs of sandbox CPU per sign-in`
        : 'n/a';
    };
    return {
      id: 3,
      title: 'Login cycle',
      tables: [
        throughputTable(
          `3. Login cycle: complete sign-ins, ${ctx.settings.loginConcurrency} concurrent users, medians of ${ctx.settings.rounds} x ${ctx.settings.seconds} s`,
          summaries,
          'sign-ins/s',
          true,
        ),
      ],
      chart: [{ label: '3. sign-in cycle', ratio, target: TARGET }],
      verdicts: [verdict(`sign-in throughput ratio >= ${TARGET}`, ratioText(paired, ratioOfMedians), ratio >= TARGET && fractal.failed === 0)],
      notes: [
        'One sign-in = 3 HTTP requests from the client (start, sandbox /authorize, callback) plus the server-side code exchange and profile fetch; latency is per sign-in.',
        'The sandbox (its own process) and Redis serve both sides; their CPU cost is part of every sign-in and shared by both.',
        `Provider calls: baseline ${per('oauth2')}; ours ${per('fractal')}.`,
        `Redis commands per sign-in: baseline ${redisPerSignIn['login-oauth2']}; ours ${redisPerSignIn['login-fractal']}.`,
      ],
      data: { summaries, ratio, ratioOfMedians, providerCalls },
    };
  } finally {
    await stopAll(servers);
  }
}

/** `concurrency` virtual users signing in until `seconds` have passed (or `limit` sign-ins started). */
export async function signInLoop(appUrl: string, concurrency: number, seconds: number, limit = MAX_SIGN_INS_PER_RUN): Promise<LoadSample> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency * 2 });
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  let begun = 0;
  const failures = new Map<string, number>();
  const user = async () => {
    while (begun < limit && (begun === 0 || performance.now() < deadline)) {
      begun++;
      const t0 = performance.now();
      try {
        await signInOnce(appUrl, agent);
        ok++;
        latencies.push(performance.now() - t0);
      } catch (err) {
        failed++;
        const reason = (err as Error).message;
        failures.set(reason, (failures.get(reason) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, user));
  const secondsTaken = (performance.now() - started) / 1000;
  agent.destroy();
  if (failures.size > 0) console.error(`  sign-in failures at ${appUrl}:`, Object.fromEntries(failures));
  return { ok, failed, seconds: secondsTaken, rps: ok / secondsTaken, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function signInOnce(appUrl: string, agent: Agent): Promise<void> {
  const start = await httpRequest(`${appUrl}/auth/start`, { agent });
  const authorizeUrl = start.headers.location;
  const cookie = cookieFrom(start, SESSION_COOKIE);
  if (start.status !== 302 || !authorizeUrl || !cookie) throw new Error(`start: ${start.status}`);
  const consent = await httpRequest(authorizeUrl, { agent });
  const callbackUrl = consent.headers.location;
  if (consent.status !== 302 || !callbackUrl) throw new Error(`authorize: ${consent.status}`);
  const callback = new URL(callbackUrl);
  if (!callback.searchParams.has('code')) throw new Error(`authorize: no code (${callback.searchParams.get('error')})`);
  const done = await httpRequest(`${appUrl}${callback.pathname}${callback.search}`, { agent, headers: { cookie } });
  if (done.status !== 200) throw new Error(`callback: ${done.status}`);
}
