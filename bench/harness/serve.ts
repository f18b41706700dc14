import { writeFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HeapReport, ToChild } from './ipc';

/**
 * The child side of `startChild`: listens on 127.0.0.1 (an ephemeral port), reports `ready`, answers
 * the runner's requests, and always ends by itself: on `exit`, when the runner goes away (IPC
 * disconnect), or after MAX_LIFETIME_MS whatever happens.
 */
const MAX_LIFETIME_MS = 15 * 60 * 1000;

export type Handlers = Record<string, (payload: unknown) => unknown>;

export function readConfig<T>(): T {
  return JSON.parse(process.env.BENCH_CONFIG ?? '{}') as T;
}

/** Starts handling IPC requests and the lifetime guards; returns a function that reports ready. */
export function childProcess(handlers: Handlers = {}, cleanup: () => Promise<void> | void = () => undefined): (port?: number, info?: unknown) => void {
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    const hardStop = setTimeout(() => process.exit(code), 3000);
    try {
      await cleanup();
    } catch {
      // Leaving anyway.
    }
    clearTimeout(hardStop);
    process.exit(code);
  };
  setTimeout(() => void stop(3), MAX_LIFETIME_MS).unref();
  process.on('disconnect', () => void stop(0));
  const all: Handlers = { heap: () => heapAfterGc(), cpu: () => process.cpuUsage(), ...handlers };
  process.on('message', async (message: ToChild) => {
    if (message.type === 'exit') {
      await stop(0);
      return;
    }
    if (message.type !== 'request') return;
    const handler = all[message.action];
    try {
      if (!handler) throw new Error(`unknown action ${message.action}`);
      const value = await handler(message.payload);
      process.send?.({ type: 'reply', id: message.id, ok: true, value });
    } catch (err) {
      process.send?.({ type: 'reply', id: message.id, ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  });
  return (port, info) => process.send?.({ type: 'ready', port, info });
}

export interface ServeOptions {
  handlers?: Handlers;
  cleanup?: () => Promise<void> | void;
  /** Port on 127.0.0.1; default 0 (ephemeral). A restarted server takes its old port again (soak). */
  port?: number;
  /** Runs once the port is known (register a redirect URI, build a strategy); its value goes to the runner. */
  prepare?: (port: number) => Promise<unknown> | unknown;
}

/** An HTTP server for a benchmark: 127.0.0.1, ephemeral port, closed (with its connections) on exit. */
export async function serveHttp(listener: RequestListener, options: ServeOptions = {}): Promise<void> {
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    listener(req, res);
  });
  // autocannon keeps its connections open for the whole run; never let the server cut them mid-round.
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 61_000;
  const ready = childProcess({ requests: () => requests, ...options.handlers }, async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await options.cleanup?.();
    const profileBase = process.env.BENCH_PROFILE_BASE;
    if (profileBase) writeFileSync(`${profileBase}.requests.json`, `${JSON.stringify({ requests })}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const info = await options.prepare?.(port);
  ready(port, info);
}

/** Heap used after full collections (needs --expose-gc); several passes so weak and finalised objects go too. */
async function heapAfterGc(): Promise<HeapReport> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run node with --expose-gc to measure the heap');
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const { heapUsed, heapTotal, rss, external } = process.memoryUsage();
  return { heapUsed, heapTotal, rss, external };
}

/** Exits with a message when the server cannot start, so the runner sees it at once. */
export function fatal(err: unknown): never {
  console.error(`bench server ${process.argv[1]} failed:`, err);
  process.exit(1);
}
