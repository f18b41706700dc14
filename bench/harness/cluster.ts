import { startLocalCluster, type LocalCluster } from '../../test/helpers/cluster';

/**
 * `npm run bench -- --cluster`: the same throw-away 3-master Redis Cluster on loopback ports that
 * the tests build (test/helpers/cluster.ts), so there is one way to form it.
 */
export type BenchCluster = LocalCluster;

export function startBenchCluster(): Promise<BenchCluster> {
  return startLocalCluster();
}
