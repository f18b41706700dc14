/**
 * CPU per webhook delivery inside `fractalWebhooks()` alone, without HTTP: the middleware called
 * in-process with a request stream and a minimal response, defaults (in-memory store), 1 KiB
 * verification events, each a distinct delivery (so the store grows as under bench scenario 5).
 * Figures are process CPU (user + system) per delivery, medians of the rounds.
 *
 *   npm run build && node -r ts-node/register/transpile-only bench/tools/webhook-cost.ts [--against=<other dist>] [--rounds=N]
 *
 * `--against` loads a second build (see bench/tools/signin-cost.ts for building another commit)
 * into the same process and alternates rounds between the two, so both see the same machine.
 * Later rounds cost more than earlier ones (the store holds every delivery for `doneTtlMs`), so
 * compare the builds' medians, not rounds of different runs. Add `node --cpu-prof` for the split.
 */
import { join } from 'node:path';
import { cpuUsage } from 'node:process';
import { Readable } from 'node:stream';
import type { Request, Response } from 'express';
import { DIST_DIR } from '../harness/dist';
import { median } from '../harness/stats';

type WebhooksModule = typeof import('../../lib/webhooks');

const SECRET = 'x'.repeat(64);
const PAD = 'x'.repeat(800);
const DELIVERIES_PER_ROUND = 15_000;

interface Build {
  dir: string;
  middleware: ReturnType<WebhooksModule['fractalWebhooks']>;
  sign: WebhooksModule['signFractalWebhook'];
}

function load(dir: string): Build {
  const webhooks = require(join(dir, 'webhooks')) as WebhooksModule;
  return { dir, middleware: webhooks.fractalWebhooks({ secrets: SECRET, onEvent: () => undefined }), sign: webhooks.signFractalWebhook };
}

let sequence = 0;

function delivery(build: Build): Request {
  const body = JSON.stringify({ type: 'verification_approved', data: { level: 'basic', user_id: `u${sequence++}`, timestamp: new Date().toISOString(), note: PAD } });
  const req = new Readable({ read() {} }) as Readable & { method: string; headers: Record<string, string> };
  req.method = 'POST';
  req.headers = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'x-fractal-signature': build.sign(SECRET, body) };
  req.push(Buffer.from(body));
  req.push(null);
  return req as unknown as Request;
}

function answer(done: (status: number) => void): Response {
  const res = { headersSent: false, statusCode: 200, setHeader() {}, writeHead(status: number) { res.statusCode = status; }, end() { done(res.statusCode); } };
  return res as unknown as Response;
}

/** µs of process CPU per delivery; the requests (and their signatures) are made before the clock starts. */
async function round(build: Build, count: number): Promise<number> {
  const requests = Array.from({ length: count }, () => delivery(build));
  const start = cpuUsage();
  for (const req of requests) {
    const status = await new Promise<number>((resolve) => void build.middleware(req, answer(resolve), () => undefined));
    if (status !== 200) throw new Error(`delivery answered ${status}`);
  }
  const used = cpuUsage(start);
  return (used.user + used.system) / count;
}

async function main(): Promise<void> {
  const against = process.argv.find((a) => a.startsWith('--against='))?.slice('--against='.length);
  const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice('--rounds='.length) ?? 10);
  const builds = [load(DIST_DIR), ...(against ? [load(against)] : [])];
  for (const build of builds) await round(build, 5_000);
  const figures = builds.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    // Alternate which build goes first, so neither always runs on the larger store.
    for (let i = 0; i < builds.length; i++) {
      const b = (i + r) % builds.length;
      figures[b].push(await round(builds[b], DELIVERIES_PER_ROUND));
    }
  }
  builds.forEach((build, i) => {
    console.log(`${build.dir}: ${median(figures[i]).toFixed(1)} µs CPU per delivery (median of ${rounds} rounds of ${DELIVERIES_PER_ROUND}: ${figures[i].map((f) => f.toFixed(0)).join(' ')})`);
  });
}

void main();
