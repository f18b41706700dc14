import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { FromChild, ReadyMessage, ToChild } from './ipc';

/** Server processes are TypeScript run through ts-node (transpile only); the library they load is `dist/`. */
const SERVERS_DIR = join(__dirname, '..', 'servers');
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 60_000;

export interface ChildOptions {
  /** File name in bench/servers/. */
  script: string;
  /** Shown in errors and tables. */
  name: string;
  /** JSON handed over in BENCH_CONFIG. */
  config?: unknown;
  /** Run node with --expose-gc (heap measurements). */
  exposeGc?: boolean;
  /** Extra environment, e.g. `BENCH_DIST` to load another build (an A/B of two builds). */
  env?: Record<string, string>;
}

export interface ChildServer {
  readonly name: string;
  readonly pid: number;
  /** 127.0.0.1 port, when the process serves HTTP. */
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly info: unknown;
  request<T = unknown>(action: string, payload?: unknown): Promise<T>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

/** Forks a server process and resolves once it reported `ready`. */
export async function startChild(options: ChildOptions): Promise<ChildServer> {
  const execArgv = ['-r', 'ts-node/register/transpile-only'];
  if (options.exposeGc) execArgv.push('--expose-gc');
  // `--cpu-prof` on the runner: every server writes a V8 CPU profile there when it exits (see bench/profile.ts).
  const profileDir = process.env.BENCH_CPU_PROF_DIR;
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env, BENCH_CONFIG: JSON.stringify(options.config ?? {}), TS_NODE_TRANSPILE_ONLY: 'true' };
  if (profileDir) {
    const profileName = `${options.name}.${process.hrtime.bigint()}`;
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${profileName}.cpuprofile`);
    // The server writes how many requests it answered next to its profile (per-request figures).
    env.BENCH_PROFILE_BASE = join(profileDir, profileName);
  }
  const child = fork(join(SERVERS_DIR, options.script), [], {
    execArgv,
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));

  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  let nextId = 1;
  child.on('message', (message: FromChild) => {
    if (message.type !== 'reply') return;
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    clearTimeout(waiting.timer);
    if (message.ok) waiting.resolve(message.value);
    else waiting.reject(new Error(`${options.name}: ${message.error ?? 'request failed'}`));
  });
  child.once('exit', (code, signal) => {
    for (const waiting of pending.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(new Error(`${options.name} exited (code ${code}, signal ${signal})`));
    }
    pending.clear();
  });

  const ready = await new Promise<ReadyMessage>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${options.name} did not start within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    const onMessage = (message: FromChild) => {
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('message', onMessage);
      resolve(message);
    };
    const onExit = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      reject(new Error(`${options.name} exited before it was ready (code ${code}, signal ${signal})`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });

  const port = ready.port ?? 0;
  return {
    name: options.name,
    pid: child.pid ?? 0,
    port,
    url: `http://127.0.0.1:${port}`,
    info: ready.info,
    request<T>(action: string, payload?: unknown): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${options.name} did not answer ${action} within ${REQUEST_TIMEOUT_MS} ms`));
        }, REQUEST_TIMEOUT_MS);
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
        const message: ToChild = { type: 'request', id, action, payload };
        child.send(message);
      });
    },
    async stop(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      if (child.connected) child.send({ type: 'exit' } satisfies ToChild);
      else child.kill('SIGKILL');
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Kills every server process still running (the runner's last resort on errors and timeouts). */
export function killAllChildren(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** Stops servers, ignoring the ones already gone. */
export async function stopAll(servers: readonly (ChildServer | undefined)[]): Promise<void> {
  await Promise.all(servers.map((server) => server?.stop().catch(() => undefined)));
}

/**
 * Starts several servers at once (start-up is mostly ts-node and module loading). If any fails, the
 * others are stopped before the error is thrown.
 */
export async function startChildren(options: readonly ChildOptions[]): Promise<ChildServer[]> {
  const settled = await Promise.allSettled(options.map((o) => startChild(o)));
  const started = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) {
    await stopAll(started);
    throw failure.reason;
  }
  return started;
}
