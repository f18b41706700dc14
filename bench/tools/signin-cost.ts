/**
 * CPU per sign-in of FractalStrategy, in one process and one sign-in at a time: an express app
 * (express-session with its MemoryStore, passport 0.7, the strategy options of scenario 3) on
 * loopback, signed in by a client in the same process (start -> sandbox /authorize -> callback),
 * against the sandbox in its own process. The figure includes the app's HTTP server, the session
 * and the client, the same for every build, so it is for comparing two builds of the library;
 * scenario 3 is the comparison with passport-oauth2.
 *
 *   npm run build && node -r ts-node/register/transpile-only bench/tools/signin-cost.ts --against=<other dist> [--rounds=N]
 *
 * `--against` loads a second build into the same process and alternates short rounds between the
 * two; read the median of the paired rounds. A build of another commit:
 *   git archive <rev> lib tsconfig.json tsconfig.build.json package.json | tar -x -C /tmp/rev &&
 *   ln -s "$PWD/node_modules" /tmp/rev/ && (cd /tmp/rev && npx tsc -p tsconfig.build.json)
 * On the shared 2-core machine single rounds swing by ±10 % and a run of a build against itself
 * gave medians within ±50 µs, so repeat a run, swapping the two builds. Under
 * `node --cpu-prof --cpu-prof-interval=50` the samples of each build are told apart by the path of
 * its dist/ files.
 */
import { join } from 'node:path';
import { cpuUsage } from 'node:process';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import { DIST_DIR, type FractalLib } from '../harness/dist';
import { SandboxProcess } from '../harness/sandbox';
import { signInLoop } from '../scenarios/login-cycle';
import { median } from '../harness/stats';

/** Short rounds, alternated: the other core's load changes within seconds and inflates CPU time. */
const SIGN_INS_PER_ROUND = 50;

interface Variant {
  label: string;
  url: string;
  close: () => void;
  perSignIn: number[];
}

async function startApp(label: string, dist: string, sandbox: SandboxProcess): Promise<Variant> {
  const { FractalStrategy } = require(join(dist, 'index.js')) as FractalLib;
  const auth = new passport.Passport();
  auth.serializeUser((user, done) => done(null, user));
  auth.deserializeUser((user: Express.User, done) => done(null, user));
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(session({ secret: 's'.repeat(32), name: 'sid', resave: false, saveUninitialized: false, cookie: { maxAge: 30 * 60 * 1000, sameSite: 'lax' } }), auth.session());
  app.get('/auth/start', (req, res, next) => auth.authenticate('fractal')(req, res, next));
  app.get('/auth/callback', (req, res, next) => auth.authenticate('fractal', { failureRedirect: '/auth/failed' })(req, res, next), (req, res) => {
    res.json({ user: (req.user as { id?: string } | undefined)?.id, ok: true });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const callbackURL = `${url}/auth/callback`;
  const client = await sandbox.registerClient([callbackURL], `signin-cost ${label}`);
  auth.use(
    new FractalStrategy({ ...client, callbackURL, domains: sandbox.domains, scope: 'uid:read' }, async (_accessToken, _refreshToken, _params, profile) => ({
      id: profile.id,
    })),
  );
  return { label, url, close: () => server.close(), perSignIn: [] };
}

async function round(variant: Variant, count: number): Promise<number> {
  const before = cpuUsage();
  const sample = await signInLoop(variant.url, 1, 3600, count);
  const used = cpuUsage(before);
  if (sample.failed > 0 || sample.ok !== count) throw new Error(`${variant.label}: ${sample.failed} sign-ins failed`);
  return (used.user + used.system) / count;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const against = args.find((a) => a.startsWith('--against='))?.slice('--against='.length);
  const rounds = Number(args.find((a) => a.startsWith('--rounds='))?.slice('--rounds='.length) ?? 100);
  const sandbox = await SandboxProcess.start();
  const variants: Variant[] = [];
  try {
    variants.push(await startApp(`this build (${DIST_DIR})`, DIST_DIR, sandbox));
    if (against) variants.push(await startApp(`--against (${against})`, against, sandbox));
    for (const v of variants) await round(v, 500); // warm-up: JIT, keep-alive sockets
    for (let r = 1; r <= rounds; r++) {
      // Alternating, and in the other order every second round, so drift hits both alike.
      const order = r % 2 === 1 ? variants : [...variants].reverse();
      for (const v of order) v.perSignIn.push(await round(v, SIGN_INS_PER_ROUND));
    }
    for (const v of variants) console.log(`${v.label}: median ${median(v.perSignIn).toFixed(0)} µs of process CPU per sign-in over ${rounds} rounds of ${SIGN_INS_PER_ROUND}`);
    const [a, b] = variants;
    if (a && b) {
      const paired = a.perSignIn.map((x, i) => x - (b.perSignIn[i] ?? 0));
      const sorted = [...paired].sort((x, y) => x - y);
      const quartile = (q: number) => sorted[Math.floor(q * (sorted.length - 1))]?.toFixed(0);
      console.log(`this build minus --against: median of paired rounds ${median(paired).toFixed(1)} µs per sign-in (quartiles ${quartile(0.25)} / ${quartile(0.75)} µs)`);
    }
  } finally {
    for (const v of variants) v.close();
    await sandbox.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
