/**
 * `npm run bench`: the six benchmarks of issues 7 and 16, each measuring its baseline and ours in the
 * same run, in counterbalanced orders, and printing medians and ratios. Servers run in their own processes on
 * 127.0.0.1; the load comes from this process. Results: bench/results/<timestamp>.json and .md.
 *
 * Options: --quick (short rounds, for development: numbers are indicative only),
 * --only=1,3,5 (a subset), --rounds=N, --seconds=S, --cluster (scenarios 1 and 5, unless --only says
 * otherwise, against a 3-master Redis Cluster the run starts on loopback), --cpu-prof (every server process writes a V8
 * CPU profile to bench/results/profiles/<run>/; summarise one with `node -r ts-node/register/transpile-only bench/profile.ts FILE`).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ratioChart } from './harness/chart';
import { killAllChildren } from './harness/child';
import { startBenchCluster, type BenchCluster } from './harness/cluster';
import { FULL, QUICK, type BenchContext, type BenchSettings } from './harness/context';
import { DIST_DIR } from './harness/dist';
import { machineInfo } from './harness/machine';
import { CLUSTER_ENV, connectRedis, deleteByPrefix, redisTarget } from './harness/redis';
import { renderMarkdown, renderText, verdictLine, type ScenarioResult } from './harness/report';
import { SandboxProcess } from './harness/sandbox';
import { kycRoute } from './scenarios/kyc-route';
import { loginCycle } from './scenarios/login-cycle';
import { memory } from './scenarios/memory';
import { protectedRoute } from './scenarios/protected-route';
import { refreshStorm } from './scenarios/refresh-storm';
import { webhooks } from './scenarios/webhooks';

/** Whatever happens, the run ends: children are killed and the process exits after this. */
const HARD_LIMIT_MS = 9 * 60 * 1000;

const SCENARIOS: { id: number; title: string; run: (ctx: BenchContext) => Promise<ScenarioResult> }[] = [
  { id: 1, title: 'Protected route overhead', run: protectedRoute },
  { id: 2, title: 'Refresh storm', run: refreshStorm },
  { id: 3, title: 'Login cycle', run: loginCycle },
  { id: 4, title: 'Memory', run: memory },
  { id: 5, title: 'Webhook verification', run: webhooks },
  { id: 6, title: 'KYC-gated route', run: kycRoute },
];
/** What `--cluster` runs unless `--only` says otherwise: the scenarios whose Redis work scales out. */
const CLUSTER_SCENARIOS = [1, 5];
const REPO_DOCS = join(__dirname, '..', 'docs');

function parseArgs(argv: readonly string[]): { settings: BenchSettings; only: Set<number>; cpuProf: boolean; cluster: boolean; subset: boolean } {
  const quick = argv.includes('--quick');
  const cluster = argv.includes('--cluster');
  let cpuProf = false;
  let subset = false;
  const settings: BenchSettings = { ...(quick ? QUICK : FULL) };
  let only = new Set(cluster ? CLUSTER_SCENARIOS : SCENARIOS.map((s) => s.id));
  for (const arg of argv) {
    const [name, value] = arg.split('=');
    if (name === '--only' && value) {
      only = new Set(value.split(',').map(Number));
      subset = true;
    } else if (name === '--cluster') continue;
    else if (name === '--rounds' && value) settings.rounds = Math.max(1, Math.min(24, Number(value)));
    else if (name === '--seconds' && value) settings.seconds = Math.max(0.5, Math.min(30, Number(value)));
    else if (name === '--cpu-prof') cpuProf = true;
    else if (name !== '--quick') throw new Error(`unknown option ${arg} (use --quick, --only=1,2, --rounds=N, --seconds=S, --cluster, --cpu-prof)`);
  }
  return { settings, only, cpuProf, cluster, subset };
}

async function main(): Promise<number> {
  const { settings, only, cpuProf, cluster: useCluster, subset } = parseArgs(process.argv.slice(2));
  if (!existsSync(join(DIST_DIR, 'index.js'))) throw new Error(`${DIST_DIR} has no build: run \`npm run build\` (npm run bench does)`);
  const started = performance.now();
  const machine = machineInfo();
  const runId = new Date().toISOString().replace(/[:.]/g, '-');
  const log = (line: string) => process.stdout.write(`${line}\n`);
  if (cpuProf) {
    process.env.BENCH_CPU_PROF_DIR = join(__dirname, 'results', 'profiles', runId);
    mkdirSync(process.env.BENCH_CPU_PROF_DIR, { recursive: true });
    log(`CPU profiles: ${process.env.BENCH_CPU_PROF_DIR} (profiling slows every server: do not compare these numbers with normal runs)`);
  }
  log(`passport-fractal-id benchmarks ${settings.quick ? '(QUICK: indicative only) ' : ''}- ${runId}`);
  log(`machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGiB} GiB, ${machine.platform}, Node ${machine.node}, load average ${machine.loadAverage.join(' ')}`);
  let cluster: BenchCluster | undefined;
  if (useCluster) {
    cluster = await startBenchCluster();
    // Inherited by every server process the scenarios fork (see harness/redis.ts).
    process.env[CLUSTER_ENV] = JSON.stringify(cluster.nodes);
  }
  log(`library: ${DIST_DIR}; Redis: ${redisTarget()}; ${settings.rounds} rounds x ${settings.seconds} s per side after a ${settings.warmupSeconds} s warm-up, in counterbalanced orders\n`);

  const redis = await connectRedis('bench-runner');
  const prefix = `bench:${randomBytes(4).toString('hex')}:`;
  const sandbox = await SandboxProcess.start();
  const ctx: BenchContext = {
    settings,
    sandbox,
    redis,
    prefix,
    sessionSecret: randomBytes(24).toString('hex'),
    encryptionKey: randomBytes(32).toString('hex'),
    log,
  };
  const results: ScenarioResult[] = [];
  let errors = 0;
  try {
    for (const scenario of SCENARIOS.filter((s) => only.has(s.id))) {
      log(`== ${scenario.id}. ${scenario.title}`);
      const t0 = performance.now();
      let result: ScenarioResult;
      try {
        result = await scenario.run(ctx);
      } catch (err) {
        errors++;
        log(`  FAILED: ${(err as Error).stack ?? String(err)}`);
        result = { id: scenario.id, title: scenario.title, tables: [], verdicts: [{ target: scenario.title, measured: `error: ${(err as Error).message}`, pass: null }], notes: [], data: null };
      }
      result.seconds = Math.round((performance.now() - t0) / 100) / 10;
      if (useCluster) {
        for (const v of result.verdicts) v.target = `[Redis Cluster] ${v.target}`;
        for (const bar of result.chart ?? []) bar.label = `${bar.label} (cluster)`;
      }
      results.push(result);
      log(`${printScenario(result)}\n`);
    }
  } finally {
    await sandbox.stop().catch(() => undefined);
    const deleted = await deleteByPrefix(redis.client, prefix).catch(() => 0);
    log(`(deleted ${deleted} Redis keys under ${prefix})`);
    await redis.close();
    await cluster?.destroy();
  }

  const totalSeconds = Math.round((performance.now() - started) / 1000);
  const endLoad = machineInfo().loadAverage;
  log('================ SUMMARY ================');
  log(`machine: ${machine.cpus} CPUs (${machine.cpuModel}), Node ${machine.node}; load average at start ${machine.loadAverage.join(' ')}, at end ${endLoad.join(' ')}; total ${totalSeconds} s\n`);
  for (const result of results) log(`${printScenario(result)}\n`);
  log('Targets:');
  for (const result of results) for (const v of result.verdicts) log(`  ${result.id}. ${verdictLine(v)}`);

  const dir = join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${runId}.json`);
  writeFileSync(file, `${JSON.stringify({ runId, settings, machine, loadAverageAtEnd: endLoad, totalSeconds, results }, null, 2)}\n`);
  writeFileSync(join(dir, `${runId}.md`), markdown(results, machine, settings, totalSeconds));
  const chart = chartOf(results, machine, endLoad, settings, useCluster);
  writeFileSync(join(dir, `${runId}.svg`), chart);
  // A complete, full-length run is what the README shows; quick runs and subsets stay in results/.
  if (!settings.quick && !subset && !cpuProf && errors === 0) {
    const docFile = join(REPO_DOCS, useCluster ? 'performance-cluster.svg' : 'performance.svg');
    writeFileSync(docFile, chart);
    log(`wrote ${docFile}`);
  }
  log(`\nwrote ${file} (and .md, .svg)`);
  return errors > 0 ? 1 : 0;
}

function chartOf(results: readonly ScenarioResult[], machine: ReturnType<typeof machineInfo>, endLoad: readonly number[], settings: BenchSettings, cluster: boolean): string {
  const bars = results.flatMap((r) => r.chart ?? []);
  const title = `passport-fractal-id: throughput against the baseline${cluster ? ' (3-master Redis Cluster)' : ''}`;
  const subtitle = `${machine.cpus} CPUs (${machine.cpuModel.slice(0, 40)}), Node ${machine.node}, load ${machine.loadAverage[0]} -> ${endLoad[0]}; ${settings.rounds} x ${settings.seconds} s rounds${settings.quick ? ' (QUICK)' : ''}`;
  return ratioChart(title, subtitle, bars);
}

function printScenario(result: ScenarioResult): string {
  const parts = result.tables.map(renderText);
  for (const v of result.verdicts) parts.push(verdictLine(v));
  for (const note of result.notes) parts.push(`note: ${note}`);
  return parts.join('\n');
}

function markdown(results: readonly ScenarioResult[], machine: ReturnType<typeof machineInfo>, settings: BenchSettings, totalSeconds: number): string {
  const lines = [
    `Machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}, load average at start ${machine.loadAverage.join(' ')}. ` +
      `${settings.rounds} rounds x ${settings.seconds} s per side, in counterbalanced orders (each side in each place equally often), after a warm-up; total ${totalSeconds} s.`,
    '',
  ];
  for (const result of results) {
    for (const table of result.tables) lines.push(renderMarkdown(table), '');
    for (const v of result.verdicts) lines.push(`- ${verdictLine(v)}`);
    for (const note of result.notes) lines.push(`- ${note}`);
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

const guard = setTimeout(() => {
  process.stderr.write(`bench: still running after ${HARD_LIMIT_MS / 60000} minutes; stopping\n`);
  killAllChildren();
  process.exit(2);
}, HARD_LIMIT_MS);
guard.unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAllChildren();
    process.exit(130);
  });
}

main().then(
  (code) => {
    killAllChildren();
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    killAllChildren();
    process.exit(1);
  },
);
