/**
 * Client-side CPU per provider call: global fetch (undici, what lib/http.ts uses) versus node:http
 * (what passport-oauth2's `oauth` package uses), against a local JSON server in another process.
 * Explains the CPU gap of scenario 3 (two provider calls per sign-in).
 *
 *   npm run build && node -r ts-node/register/transpile-only bench/tools/http-client-cost.ts
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { startChild } from '../harness/child';
import { fmt } from '../harness/format';
import { median } from '../harness/stats';

const CALLS = 3000;
const CONCURRENCY = 8;
const ROUNDS = 3;
const BODY = 'grant_type=authorization_code&code=abc&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&client_id=a&client_secret=b';
const HEADERS = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };

async function viaFetch(url: string): Promise<void> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 10_000);
  try {
    const res = await fetch(url, { method: 'POST', headers: HEADERS, body: BODY, signal: controller.signal });
    await res.json();
  } finally {
    clearTimeout(timer);
  }
}

function viaHttp(url: string, agent: Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, timeout: 10_000, headers: { ...HEADERS, 'content-length': String(Buffer.byteLength(BODY)) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        JSON.parse(text);
        resolve();
      });
    });
    req.on('error', reject);
    req.end(BODY);
  });
}

async function cpuPerCall(call: () => Promise<void>): Promise<{ cpuUs: number; perSecond: number }> {
  let started = 0;
  const before = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (started < CALLS) {
        started++;
        await call();
      }
    }),
  );
  const used = process.cpuUsage(before);
  return { cpuUs: (used.user + used.system) / CALLS, perSecond: CALLS / ((performance.now() - t0) / 1000) };
}

async function main(): Promise<void> {
  const server = await startChild({ script: 'echo.ts', name: 'echo' });
  const url = `${server.url}/oauth/token`;
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const clients: Record<string, () => Promise<void>> = {
    'fetch (undici)': () => viaFetch(url),
    'node:http, keep-alive agent': () => viaHttp(url, agent),
  };
  const results: Record<string, number[]> = {};
  try {
    for (const call of Object.values(clients)) await cpuPerCall(call); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, call] of Object.entries(clients)) {
        const { cpuUs } = await cpuPerCall(call);
        results[name] ??= [];
        results[name].push(cpuUs);
      }
    }
  } finally {
    agent.destroy();
    await server.stop();
  }
  process.stdout.write(`client CPU per POST + JSON answer (${CALLS} calls, ${CONCURRENCY} concurrent, median of ${ROUNDS} rounds)\n`);
  for (const [name, values] of Object.entries(results)) process.stdout.write(`  ${name.padEnd(30)} ${fmt.int(median(values)).padStart(6)} µs\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
