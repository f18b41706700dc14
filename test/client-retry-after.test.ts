import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { ResourceErrorCode } from '../lib/client';
import { parseRetryAfter } from '../lib/provider/retry';
import { startClientSandbox, type ClientSandbox } from './helpers/client-sandbox';

/**
 * The sandbox's injected faults cannot carry response headers, so `Retry-After` is served by a
 * small resource server of our own on loopback; the token still comes from the sandbox.
 */
interface Scripted {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

interface StatsServer {
  url: string;
  /** Arrival times (ms) of the requests received. */
  hits: number[];
  /** Answers for the next requests, in order; then 200 with zero totals. */
  script: Scripted[];
  close(): Promise<void>;
}

const TOTALS = { approved: 4, contacted: 3, rejected: 2, pending: 1 };

async function startStatsServer(): Promise<StatsServer> {
  const hits: number[] = [];
  const script: Scripted[] = [];
  const app = express();
  app.get('/v2/stats/total-verifications', (_req, res) => {
    hits.push(Date.now());
    const next = script.shift() ?? { status: 200, body: TOTALS };
    res.status(next.status).set(next.headers ?? {}).json(next.body);
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    script,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const rateLimited = (headers?: Record<string, string>): Scripted => ({
  status: 429,
  ...(headers ? { headers } : {}),
  body: { error: 'rate_limited', error_description: 'Too many requests' },
});

describe('429 with Retry-After', () => {
  let env: ClientSandbox;
  let stats: StatsServer;
  beforeEach(async () => {
    env = await startClientSandbox();
    stats = await startStatsServer();
  });
  afterEach(async () => {
    await stats.close();
    await env.close();
  });
  const client = (retry = {}) => env.client({ domains: { auth: env.sandbox.domains.auth, resource: stats.url }, retry: { baseDelayMs: 5, maxDelayMs: 20, ...retry } });

  test('waits the seconds Retry-After asks for, then retries', async () => {
    stats.script.push(rateLimited({ 'Retry-After': '1' }));

    await expect(client().stats.totalVerifications()).resolves.toEqual(TOTALS);

    expect(stats.hits).toHaveLength(2);
    const waited = (stats.hits[1] as number) - (stats.hits[0] as number);
    expect(waited).toBeGreaterThanOrEqual(950);
    expect(waited).toBeLessThan(2500);
  });

  test('a 429 without Retry-After is retried with the jittered backoff', async () => {
    stats.script.push(rateLimited(), rateLimited());

    await expect(client().stats.totalVerifications()).resolves.toEqual(TOTALS);
    expect(stats.hits).toHaveLength(3);
  });

  test('a Retry-After longer than maxRetryAfterMs fails at once with rate_limited and the wait', async () => {
    stats.script.push(rateLimited({ 'Retry-After': '120' }));
    const started = Date.now();

    const err = await client({ maxRetryAfterMs: 10_000 }).stats.totalVerifications().catch((e: unknown) => e);

    expect(err).toMatchObject({ code: ResourceErrorCode.RATE_LIMITED, providerStatus: 429, retryAfterMs: 120_000, status: 503, description: 'Too many requests' });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(stats.hits).toHaveLength(1);
  });

  test('after the last attempt a 429 is rate_limited with the last Retry-After', async () => {
    stats.script.push(rateLimited({ 'Retry-After': '0' }), rateLimited({ 'Retry-After': '0' }));

    await expect(client({ attempts: 2 }).stats.totalVerifications()).rejects.toMatchObject({ code: ResourceErrorCode.RATE_LIMITED, retryAfterMs: 0 });
    expect(stats.hits).toHaveLength(2);
  });

  test('a 503 with Retry-After as an HTTP-date is honoured too', async () => {
    // HTTP-dates have whole seconds: ask for a moment at least one second ahead.
    const at = new Date(Math.ceil((Date.now() + 1000) / 1000) * 1000);
    stats.script.push({ status: 503, headers: { 'Retry-After': at.toUTCString() }, body: {} });

    await expect(client().stats.totalVerifications()).resolves.toEqual(TOTALS);

    expect(stats.hits).toHaveLength(2);
    expect(stats.hits[1] as number).toBeGreaterThanOrEqual(at.getTime() - 20);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  test('reads delay-seconds', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 30 ', now)).toBe(30_000);
  });

  test('reads an HTTP-date, and treats a past date as now', () => {
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:59:00 GMT', now)).toBe(0);
  });

  test('ignores what is neither', () => {
    for (const value of [null, undefined, '', '-1', '1.5', 'soon', '1e3']) expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});
