/**
 * Where a webhook server's CPU goes by thread, and how often it sleeps: scenario 5's servers (the
 * `express.json()` route, the defaults, a `RedisWebhookStore`) under the same load, with each
 * server thread's user and system CPU and context switches read from /proc per delivery. The
 * main thread's V8 profile (`--cpu-prof`) counts neither other threads (GC helpers) nor the kernel
 * time spent waking up; this does.
 *
 *   npm run build && node -r ts-node/register/transpile-only bench/tools/webhook-threads.ts [--cluster] [--rounds=N] [--seconds=S]
 *
 * Linux only. Loopback only: a local Redis, or with `--cluster` a throw-away 3-master Cluster.
 */
import { randomBytes } from 'node:crypto';
import { cpuUsage } from 'node:process';
import { Redis } from 'ioredis';
import { readdirSync, readFileSync } from 'node:fs';
import { startBenchCluster } from '../harness/cluster';
import { startChildren, stopAll, type ChildServer } from '../harness/child';
import { loadWebhooks } from '../harness/dist';
import { roundOrder } from '../harness/order';
import { runAutocannon } from '../harness/load';
import { CLUSTER_ENV, connectRedis, deleteByPrefix } from '../harness/redis';
import { median } from '../harness/stats';
import { deliveryFactory } from '../scenarios/webhooks';

const TICKS_PER_SECOND = 100;

interface ThreadSample {
  name: string;
  userUs: number;
  systemUs: number;
  voluntary: number;
  involuntary: number;
}

/** Per-thread CPU and context switches of a process, from /proc/<pid>/task. */
function threads(pid: number): Map<number, ThreadSample> {
  const out = new Map<number, ThreadSample>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const count = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
      out.set(Number(tid), {
        name,
        userUs: (Number(fields[11]) * 1e6) / TICKS_PER_SECOND,
        systemUs: (Number(fields[12]) * 1e6) / TICKS_PER_SECOND,
        voluntary: count('voluntary_ctxt_switches'),
        involuntary: count('nonvoluntary_ctxt_switches'),
      });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** Differences per delivery, grouped by thread name (the main thread is named after the process). */
function perDelivery(before: Map<number, ThreadSample>, after: Map<number, ThreadSample>, pid: number, deliveries: number): Map<string, ThreadSample> {
  const grouped = new Map<string, ThreadSample>();
  for (const [tid, b] of after) {
    const a = before.get(tid) ?? { ...b, userUs: 0, systemUs: 0, voluntary: 0, involuntary: 0 };
    const key = tid === pid ? 'main' : b.name;
    const g = grouped.get(key) ?? { name: key, userUs: 0, systemUs: 0, voluntary: 0, involuntary: 0 };
    g.userUs += (b.userUs - a.userUs) / deliveries;
    g.systemUs += (b.systemUs - a.systemUs) / deliveries;
    g.voluntary += (b.voluntary - a.voluntary) / deliveries;
    g.involuntary += (b.involuntary - a.involuntary) / deliveries;
    grouped.set(key, g);
  }
  return grouped;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: number) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
  // A whole number of cycles of the three servers' orders, as the bench does (harness/order.ts).
  const rounds = option('rounds', 6);
  const seconds = option('seconds', 3);
  const cluster = args.includes('--cluster') ? await startBenchCluster() : undefined;
  if (cluster) process.env[CLUSTER_ENV] = JSON.stringify(cluster.nodes);
  const secret = randomBytes(32).toString('hex');
  const prefix = `bench:threads:${randomBytes(4).toString('hex')}:`;
  const { signFractalWebhook } = loadWebhooks();
  // The same signed 1 KiB deliveries as scenario 5, each a new event.
  const nextBody = deliveryFactory();
  let counter = 0;
  const setupRequest = (request: { headers?: Record<string, string> }) => {
    const body = nextBody(counter++);
    return { ...request, method: 'POST', body, headers: { ...request.headers, 'content-type': 'application/json', 'x-fractal-signature': signFractalWebhook(secret, body) } };
  };
  const servers = await startChildren([
    { script: 'webhooks.ts', name: 'json', config: { mode: 'json', secret } },
    { script: 'webhooks.ts', name: 'memory', config: { mode: 'fractal', secret } },
    { script: 'webhooks.ts', name: 'redis', config: { mode: 'fractal-redis', secret, prefix } },
  ]);
  const results = new Map<string, Map<string, ThreadSample>[]>();
  // Redis's own CPU (every master on a Cluster), and the load generator's (this process).
  const redisNodes = (cluster?.nodes ?? [{ host: '127.0.0.1', port: 6379 }]).map((node) => new Redis({ ...node, lazyConnect: false }));
  const redisCpuUs = async () => {
    let total = 0;
    for (const node of redisNodes) {
      const info = await node.info('cpu');
      for (const field of ['used_cpu_sys', 'used_cpu_user']) total += Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0) * 1e6;
    }
    return total;
  };
  try {
    const measure = async (server: ChildServer, duration: number) => {
      const before = threads(server.pid);
      const redisBefore = await redisCpuUs();
      const loadBefore = cpuUsage();
      const sample = await runAutocannon({ url: `${server.url}/webhooks/fractal`, method: 'POST', connections: 20, duration, setupRequest });
      const load = cpuUsage(loadBefore);
      const out = perDelivery(before, threads(server.pid), server.pid, sample.ok);
      const redisUs = ((await redisCpuUs()) - redisBefore) / sample.ok;
      out.set('(redis)', { name: '(redis)', userUs: redisUs, systemUs: 0, voluntary: 0, involuntary: 0 });
      out.set('(load gen.)', { name: '(load gen.)', userUs: load.user / sample.ok, systemUs: load.system / sample.ok, voluntary: 0, involuntary: 0 });
      out.set('(deliveries/s)', { name: '(deliveries/s)', userUs: sample.rps, systemUs: 0, voluntary: 0, involuntary: 0 });
      return out;
    };
    for (const server of servers) await measure(server, 1);
    for (let round = 0; round < rounds; round++) {
      for (const index of roundOrder(servers.length, round)) {
        const server = servers[index] as ChildServer;
        const list = results.get(server.name) ?? [];
        list.push(await measure(server, seconds));
        results.set(server.name, list);
      }
    }
  } finally {
    for (const node of redisNodes) node.disconnect();
    await stopAll(servers);
    if (cluster) await cluster.destroy();
    else {
      const redis = await connectRedis('bench-threads-cleanup');
      await deleteByPrefix(redis.client, prefix);
      await redis.close();
    }
  }
  console.log(`µs of CPU and context switches per delivery, medians of ${rounds} x ${seconds} s${cluster ? ' (Redis Cluster)' : ''}`);
  console.log('server  thread            user    sys  vol.cs  invol.cs   ((redis): user + sys, all nodes)');
  for (const [server, list] of results) {
    // How busy the main thread was: its CPU per delivery times deliveries per second. Below 1 with
    // CPU to spare elsewhere means it waited (for Redis, or for the load generator).
    const busy = median(list.map((m) => ((m.get('main')?.userUs ?? 0) + (m.get('main')?.systemUs ?? 0)) * (m.get('(deliveries/s)')?.userUs ?? 0) / 1e6));
    console.log(`${server.padEnd(8)}${'(main busy)'.padEnd(16)}${busy.toFixed(2).padStart(7)}`);
    const names = new Set(list.flatMap((m) => [...m.keys()]));
    for (const name of names) {
      const pick = (f: (s: ThreadSample) => number) => median(list.map((m) => (m.get(name) ? f(m.get(name) as ThreadSample) : 0)));
      const user = pick((s) => s.userUs);
      const system = pick((s) => s.systemUs);
      if (user + system < 0.05 && name !== 'main') continue;
      console.log(`${server.padEnd(8)}${name.padEnd(16)}${user.toFixed(1).padStart(7)}${system.toFixed(1).padStart(7)}${pick((s) => s.voluntary).toFixed(3).padStart(8)}${pick((s) => s.involuntary).toFixed(3).padStart(10)}`);
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
