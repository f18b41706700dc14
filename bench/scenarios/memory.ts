import { startChild, stopAll, type ChildServer } from '../harness/child';
import type { BenchContext } from '../harness/context';
import type { HeapReport } from '../harness/ipc';
import { runAutocannon } from '../harness/load';
import { fmt, verdict, type ScenarioResult } from '../harness/report';
import { prepareUser, runnerVault, TOKEN_CLIENT_REDIRECT, vaultSettings } from './users';

const TARGET_GROWTH = 0.1;

/**
 * Scenario 4: heap used after forced full GCs, after a warm-up and after 100,000 more protected
 * requests (the scenario 1 route with the vault), in a server run with --expose-gc.
 */
export async function memory(ctx: BenchContext): Promise<ScenarioResult> {
  const client = await ctx.sandbox.registerClient([TOKEN_CLIENT_REDIRECT]);
  const user = await prepareUser(ctx, client);
  await runnerVault(ctx, client).saveTokens(user.uid, user.tokenSet);
  const servers: ChildServer[] = [];
  try {
    const ours = await startChild({
      script: 'protected.ts',
      name: 'fractal-gc',
      exposeGc: true,
      config: { prefix: ctx.prefix, sessionSecret: ctx.sessionSecret, mode: 'fractal', vault: vaultSettings(ctx, client) },
    });
    servers.push(ours);
    const load = (amount: number) =>
      runAutocannon({ url: `${ours.url}/api/data`, connections: ctx.settings.connections, amount, headers: { cookie: user.cookie, accept: 'application/json' } });
    const start = await ours.request<HeapReport>('heap');
    const warm = await load(ctx.settings.memoryWarmupRequests);
    const afterWarmup = await ours.request<HeapReport>('heap');
    ctx.log(`  warm-up: ${fmt.int(warm.ok)} requests, heap ${fmt.mib(afterWarmup.heapUsed)}`);
    const main = await load(ctx.settings.memoryRequests);
    // Let closed keep-alive sockets go before measuring.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const end = await ours.request<HeapReport>('heap');
    const growth = (end.heapUsed - afterWarmup.heapUsed) / afterWarmup.heapUsed;
    const row = (label: string, h: HeapReport) => [label, fmt.mib(h.heapUsed), fmt.mib(h.heapTotal), fmt.mib(h.rss)];
    return {
      id: 4,
      title: 'Memory',
      tables: [
        {
          title: `4. Memory: ${fmt.int(ctx.settings.memoryRequests)} protected requests (vault route), heap after forced GC`,
          columns: ['moment', 'heap used', 'heap total', 'rss'],
          rows: [
            row('at start', start),
            row(`after warm-up (${fmt.int(warm.ok)} requests)`, afterWarmup),
            row(`after ${fmt.int(main.ok)} more requests`, end),
            ['growth after warm-up', fmt.pct(growth), '', ''],
          ],
        },
      ],
      verdicts: [
        verdict(`heap at end within ${TARGET_GROWTH * 100} % of after warm-up`, fmt.pct(growth), Math.abs(growth) <= TARGET_GROWTH && main.failed === 0 && main.ok === ctx.settings.memoryRequests),
      ],
      notes: [`${fmt.int(main.ok)} of ${fmt.int(ctx.settings.memoryRequests)} requests answered 2xx (${main.failed} failed), ${fmt.int(main.rps)} req/s.`],
      data: { start, afterWarmup, end, growth, warm, main },
    };
  } finally {
    await stopAll(servers);
  }
}
