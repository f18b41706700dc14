/**
 * CPU per webhook delivery inside `fractalWebhooks()` alone, without HTTP: the middleware called
 * in-process with a request stream and a minimal response, defaults (in-memory store), 1 KiB
 * verification events, each a distinct delivery. Add `--cpu-prof` to see where it goes.
 *
 *   npm run build && node -r ts-node/register/transpile-only bench/tools/webhook-cost.ts
 */
import { Readable } from 'node:stream';
import type { Request, Response } from 'express';
import { loadWebhooks } from '../harness/dist';

const { fractalWebhooks, signFractalWebhook } = loadWebhooks();
const SECRET = 'x'.repeat(64);
const PAD = 'x'.repeat(800);
const middleware = fractalWebhooks({ secrets: SECRET, onEvent: () => undefined });

function delivery(n: number): Request {
  const body = JSON.stringify({ type: 'verification_approved', data: { level: 'basic', user_id: `u${n}`, timestamp: new Date().toISOString(), note: PAD } });
  const req = new Readable({ read() {} }) as Readable & { method: string; headers: Record<string, string> };
  req.method = 'POST';
  req.headers = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'x-fractal-signature': signFractalWebhook(SECRET, body) };
  req.push(Buffer.from(body));
  req.push(null);
  return req as unknown as Request;
}

function answer(done: (status: number) => void): Response {
  const res = { headersSent: false, statusCode: 200, setHeader() {}, writeHead(status: number) { res.statusCode = status; }, end() { done(res.statusCode); } };
  return res as unknown as Response;
}

async function round(count: number, offset: number): Promise<number> {
  const requests = Array.from({ length: count }, (_, i) => delivery(offset + i));
  const start = process.hrtime.bigint();
  for (const req of requests) {
    const status = await new Promise<number>((resolve) => void middleware(req, answer(resolve), () => undefined));
    if (status !== 200) throw new Error(`delivery answered ${status}`);
  }
  return Number(process.hrtime.bigint() - start) / count / 1000;
}

async function main(): Promise<void> {
  await round(5_000, 0);
  for (let i = 1; i <= 3; i++) console.log(`round ${i}: ${(await round(30_000, i * 100_000)).toFixed(1)} µs per delivery`);
}

void main();
