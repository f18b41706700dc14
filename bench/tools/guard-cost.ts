/**
 * CPU per guarded request of a warm user, in one process, without HTTP: `vault.middleware()` then
 * `kyc.requireKyc('basic')` (scenario 6's route) and `vault.middleware()` then `vault.require()`
 * (scenario 1's guard), on plain request objects, with the stores scenario 6 uses (a
 * `RedisTokenStore` with its defaults on the real Redis, the default `MemoryKycCache`). The user is
 * signed in at the sandbox and approved for `basic`. A request counts as done when the guard
 * called `next()`.
 *
 *   npm run build && node -r ts-node/register/transpile-only bench/tools/guard-cost.ts [--against=<other dist>] [--rounds=N]
 *
 * With `--against`, a second build is loaded into the same process and short rounds alternate
 * between the two; read the medians. HTTP, the session and Express's router are left out: they are
 * the same for every build, and scenario 6 measures them. What is left is the library's own work
 * per request, the part a build can change. (See `bench/tools/signin-cost.ts` for how to build
 * another commit.)
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { cpuUsage } from 'node:process';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { DIST_DIR, type FractalLib } from '../harness/dist';
import { connectRedis, deleteByPrefix } from '../harness/redis';
import { SandboxProcess } from '../harness/sandbox';
import { median } from '../harness/stats';

const REQUESTS_PER_ROUND = 20_000;
const REDIRECT = 'http://127.0.0.1:9/bench/callback';
const SCOPES = ['uid:read', 'verification.basic:read'];

interface Chain {
  label: string;
  handlers: RequestHandler[];
  perRequestUs: number[];
}

interface Build {
  dist: string;
  chains: Chain[];
}

function fakeRequest(uid: string): Request {
  const res = { locals: {} } as Response;
  const req = { user: { id: uid }, method: 'GET', originalUrl: '/api/data', headers: { accept: 'application/json' }, get: (name: string) => (name.toLowerCase() === 'accept' ? 'application/json' : undefined), res } as unknown as Request;
  return req;
}

/** Runs the chain for one request; resolves when the last handler called `next()` without an error. */
function run(handlers: readonly RequestHandler[], req: Request): Promise<void> {
  return new Promise((resolve, reject) => {
    let i = 0;
    const next: NextFunction = (err?: unknown) => {
      if (err) return reject(err);
      const handler = handlers[i++];
      if (!handler) return resolve();
      void handler(req, req.res as Response, next);
    };
    next();
  });
}

async function measure(chain: Chain, uid: string, requests: number): Promise<number> {
  const before = cpuUsage();
  for (let i = 0; i < requests; i++) {
    const req = fakeRequest(uid);
    await run(chain.handlers, req);
    if ((req.res as Response).locals.fractalKyc === undefined && chain.label.startsWith('kyc') ) throw new Error(`${chain.label}: the guard let the request through without a decision`);
  }
  const used = cpuUsage(before);
  return (used.user + used.system) / requests;
}

async function main(): Promise<void> {
  const against = process.argv.find((a) => a.startsWith('--against='))?.slice('--against='.length);
  const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice('--rounds='.length) ?? 15);
  const prefix = `bench:${randomBytes(6).toString('hex')}:`;
  const sandbox = await SandboxProcess.start();
  const redis = await connectRedis('guard-cost');
  const builds: Build[] = [];
  try {
    const client = await sandbox.registerClient([REDIRECT], 'guard-cost');
    const { uid, tokenSet } = await sandbox.signIn(client, REDIRECT, SCOPES);
    await sandbox.setVerification(uid, 'basic', { status: 'done', credential: 'approved' });
    const encryptionKey = randomBytes(32).toString('hex');
    for (const [n, dist] of [DIST_DIR, ...(against ? [against] : [])].entries()) {
      const lib = require(join(dist, 'index.js')) as FractalLib;
      const store = new lib.RedisTokenStore({ client: redis.client, prefix: `${prefix}${n}:tokens:` });
      const vault = lib.createFractalVault({ store, encryptionKeys: [encryptionKey], ...client, domains: sandbox.domains });
      await vault.saveTokens(uid, tokenSet);
      const kyc = lib.createFractalKyc({ vault });
      builds.push({
        dist,
        chains: [
          { label: 'kyc.requireKyc', handlers: [vault.middleware(), kyc.requireKyc('basic')], perRequestUs: [] },
          { label: 'vault.require', handlers: [vault.middleware(), vault.require()], perRequestUs: [] },
        ],
      });
    }
    // Warm-up: the store's local copy needs its change channel confirmed; the KYC cache its first read.
    for (const build of builds) for (const chain of build.chains) await measure(chain, uid, REQUESTS_PER_ROUND);
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? builds : [...builds].reverse();
      for (const build of order) for (const chain of build.chains) chain.perRequestUs.push(await measure(chain, uid, REQUESTS_PER_ROUND));
    }
    console.log(`CPU µs per warm guarded request (no HTTP), medians of ${rounds} rounds of ${REQUESTS_PER_ROUND}:`);
    for (const build of builds) {
      for (const chain of build.chains) {
        const sorted = [...chain.perRequestUs].sort((a, b) => a - b);
        console.log(`  ${build.dist}  ${chain.label.padEnd(15)} ${median(chain.perRequestUs).toFixed(2)} µs (rounds ${sorted[0]?.toFixed(2)}-${sorted[sorted.length - 1]?.toFixed(2)})`);
      }
    }
  } finally {
    await deleteByPrefix(redis.client, prefix);
    await redis.close();
    await sandbox.stop();
  }
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
