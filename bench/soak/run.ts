/**
 * `npm run soak`: four example-app processes on one sandbox and one private Redis, mixed traffic
 * for a bounded time (default 300 s, `--seconds=N` or SOAK_SECONDS), while token endpoint 503s,
 * timeouts, lost token responses, a Redis restart and a killed app process are injected. Exits 1
 * when a grant was lost. Loopback only; every process it starts is stopped at the end.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { killAllChildren, startChild, stopAll, type ChildServer, type ChildOptions } from '../harness/child';
import { httpRequest } from '../harness/http';
import type { HeapReport } from '../harness/ipc';
import { SandboxProcess, countsDelta } from '../harness/sandbox';
import { freePort, startRedisServer, type RedisServer } from '../../test/helpers/redis';
import type { SoakAppConfig } from '../servers/soak-app';
import { faultPlan } from './faults';
import { printReport, type SoakReport } from './report';
import { Traffic, type AppSlot } from './traffic';

const APPS = 4;
const ACCESS_TOKEN_SECONDS = 5;
const PROVIDER_TIMEOUT_MS = 5000;
const MAX_REQUESTS = 500_000;

interface Settings {
  seconds: number;
  workers: number;
  maxUsers: number;
  /** Pause between two steps of a virtual user: the machine is shared, the soak is not a benchmark. */
  thinkMs: number;
  /**
   * `--no-persist`: Redis without AOF, so its restart loses every session and token: the check
   * that the soak does see lost grants (it must then exit 1).
   */
  persist: boolean;
}

function settings(): Settings {
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const num = (value: string | undefined, fallback: number, min: number, max: number) => {
    const n = value === undefined ? fallback : Number(value);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`expected a number from ${min} to ${max}, got ${value}`);
    return n;
  };
  return {
    seconds: num(arg('seconds') ?? process.env.SOAK_SECONDS, 300, 20, 3600),
    workers: num(arg('workers') ?? process.env.SOAK_WORKERS, 8, 1, 64),
    maxUsers: num(arg('users') ?? process.env.SOAK_USERS, 60, 1, 10_000),
    thinkMs: num(arg('think-ms') ?? process.env.SOAK_THINK_MS, 20, 0, 5000),
    persist: !process.argv.includes('--no-persist'),
  };
}

interface Slot extends AppSlot {
  child: ChildServer;
  options: ChildOptions;
  heap: { pid: number; start: HeapReport; end?: HeapReport }[];
}

/** For the signal handler: the private redis-server must not outlive the soak. */
let activeRedis: RedisServer | undefined;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<number> {
  const s = settings();
  const log = (line: string) => console.log(`[soak ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  const t0 = performance.now();
  let redis: RedisServer | undefined;
  let sandbox: SandboxProcess | undefined;
  const slots: Slot[] = [];
  // Whatever happens, the soak ends by itself.
  const guard = setTimeout(() => {
    console.error('soak: hard time limit reached, killing everything');
    killAllChildren();
    void redis?.destroy().finally(() => process.exit(3));
  }, (s.seconds + 180) * 1000);
  try {
    // Persistence as the README's go-live checklist asks (AOF, fsync always): a restart loses nothing.
    redis = await startRedisServer({ persist: s.persist });
    activeRedis = redis;
    sandbox = await SandboxProcess.start();
    await sandbox.setLifetimes({ accessToken: ACCESS_TOKEN_SECONDS });
    const ports = await Promise.all(Array.from({ length: APPS }, () => freePort()));
    const baseURL = `http://127.0.0.1:${ports[0]}`;
    const client = await sandbox.registerClient([`${baseURL}/auth/fractal/callback`], 'Soak app');
    const webhookSecret = randomBytes(20).toString('hex');
    const shared = {
      baseURL,
      redisURL: `redis://127.0.0.1:${redis.port}`,
      sessionSecret: randomBytes(32).toString('hex'),
      tokenEncryptionKey: randomBytes(32).toString('base64'),
      webhookSecret,
      ...client,
      domains: sandbox.domains,
    };
    const options = ports.map((port, i): ChildOptions => ({ script: 'soak-app.ts', name: `app-${i + 1}`, exposeGc: true, config: { ...shared, port } satisfies SoakAppConfig }));
    const children = await Promise.all(options.map((o) => startChild(o)));
    for (const [i, child] of children.entries()) {
      slots.push({ url: child.url, up: true, child, options: options[i] as ChildOptions, heap: [{ pid: child.pid, start: await child.request<HeapReport>('heap') }] });
    }
    log(`4 app processes on ports ${ports.join(', ')}, Redis on ${redis.port}, sandbox ${sandbox.domains.auth}; ${s.seconds} s, ${s.workers} virtual users at a time`);

    const countsBefore = await sandbox.counts();
    const fired: { at: number; name: string }[] = [];
    const startedAt = Date.now();
    const traffic = new Traffic({
      apps: slots,
      sandboxAuth: sandbox.domains.auth,
      webhookSecret,
      accessTokenSeconds: ACCESS_TOKEN_SECONDS,
      maxUsers: s.maxUsers,
      startedAt,
      recentFaults: () => fired.filter((f) => Date.now() - f.at < 20_000).map((f) => f.name),
    });
    const redisServer = redis;
    const plan = faultPlan({
      sandboxAuth: sandbox.domains.auth,
      providerTimeoutMs: PROVIDER_TIMEOUT_MS,
      persist: s.persist,
      restartRedis: async () => {
        await redisServer.kill();
        await sleep(2000);
        await redisServer.start();
      },
      killAndRestartApp: async () => {
        const slot = slots[1] as Slot;
        slot.up = false;
        process.kill(slot.child.pid, 'SIGKILL');
        await gone(slot.child.pid);
        slot.child = await startChild(slot.options);
        slot.heap.push({ pid: slot.child.pid, start: await slot.child.request<HeapReport>('heap') });
        slot.up = true;
      },
    });
    const deadline = startedAt + s.seconds * 1000;
    const faultRuns = plan.map(
      (f) =>
        new Promise<void>((resolve) => {
          setTimeout(() => {
            fired.push({ at: Date.now(), name: f.name });
            log(`inject: ${f.name}`);
            f.run().then(
              () => resolve(),
              (err: unknown) => {
                log(`fault ${f.name} failed: ${(err as Error).message}`);
                resolve();
              },
            );
          }, f.at * s.seconds * 1000);
        }),
    );
    const progress = setInterval(() => log(`${traffic.requests} requests, ${traffic.users.length} users, ${traffic.lost.length} grants lost`), 30_000);
    const worker = async () => {
      while (Date.now() < deadline && traffic.requests < MAX_REQUESTS) {
        try {
          await traffic.step();
        } catch (err) {
          // Admin API calls of the driver itself; the sandbox never restarts, so this is rare.
          log(`driver error: ${(err as Error).message}`);
        }
        await sleep(s.thinkMs);
      }
    };
    await Promise.all(Array.from({ length: s.workers }, worker));
    clearInterval(progress);
    await Promise.all(faultRuns);
    await httpRequest(`${sandbox.domains.auth}/_sandbox/faults`, { method: 'DELETE' });

    // Every user once more, after the faults: each needs a refresh by now (tokens live 5 s).
    log(`traffic stopped; final check of ${traffic.users.length} users`);
    await sleep(ACCESS_TOKEN_SECONDS * 1000);
    const sweep = { ok: 0, transient: 0, signedOut: 0 };
    for (const user of traffic.users) {
      if (user.cookie === undefined) continue;
      let outcome: 'ok' | 'transient' | 'signed-out' = 'transient';
      for (let attempt = 0; attempt < 3 && outcome === 'transient'; attempt++) {
        if (attempt > 0) await sleep(1000);
        outcome = await traffic.protectedCall(user, '/api/me');
      }
      sweep[outcome === 'signed-out' ? 'signedOut' : outcome]++;
    }
    const counts = countsDelta(countsBefore, await sandbox.counts());
    for (const slot of slots) {
      const last = slot.heap[slot.heap.length - 1];
      if (last) last.end = await slot.child.request<HeapReport>('heap');
    }
    const appLogs: Record<string, number> = {};
    for (const slot of slots) {
      for (const [line, n] of Object.entries(await slot.child.request<Record<string, number>>('logs'))) appLogs[line] = (appLogs[line] ?? 0) + n;
    }
    traffic.close();
    const report: SoakReport = {
      seconds: s.seconds,
      settings: { seconds: s.seconds, workers: s.workers, maxUsers: s.maxUsers, thinkMs: s.thinkMs, persist: s.persist ? 1 : 0 },
      requests: traffic.requests,
      answers: Object.fromEntries([...traffic.answers].sort()),
      signIns: traffic.signIns,
      signInFailures: Object.fromEntries(traffic.signInFailures),
      users: traffic.users.length,
      refreshCalls: counts.refresh,
      failedTokenCalls: counts.failed,
      codeExchanges: counts.code,
      expiries: traffic.expiries,
      refreshPoints: traffic.refreshPoints,
      endedByProvider: traffic.endedByProvider,
      lost: traffic.lost,
      sweep,
      faults: fired.map((f) => ({ atSecond: Math.round((f.at - startedAt) / 1000), name: f.name })),
      heap: slots.map((slot) => ({ name: slot.options.name, processes: slot.heap })),
      appLogs,
    };
    printReport(report);
    return traffic.lost.length === 0 ? 0 : 1;
  } finally {
    clearTimeout(guard);
    await stopAll([...slots.map((slot) => slot.child), sandbox?.child]);
    await redis?.destroy();
  }
}

/** Resolves once the process no longer exists. */
async function gone(pid: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(50);
  }
}

process.once('SIGINT', () => {
  killAllChildren();
  void (activeRedis?.destroy() ?? Promise.resolve()).finally(() => process.exit(130));
});

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('soak failed:', err);
    killAllChildren();
    process.exit(2);
  },
);
