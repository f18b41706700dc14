import type { CountingRedis } from './redis';
import type { SandboxProcess } from './sandbox';

/** Durations and sizes; `--quick` shrinks them for development (numbers are then indicative only). */
export interface BenchSettings {
  quick: boolean;
  /** Measured rounds per side (after one warm-up each). */
  rounds: number;
  /** Seconds per measured round. */
  seconds: number;
  warmupSeconds: number;
  /** autocannon connections (the ecosystem notes' baseline used 20). */
  connections: number;
  /** Requests per side in the Redis round-trip count of scenario 1. */
  countRequests: number;
  /** Scenario 2. */
  stormSize: number;
  stormWorkers: number;
  /** Scenario 3: concurrent virtual users signing in. */
  loginConcurrency: number;
  /** Scenario 4. */
  memoryWarmupRequests: number;
  memoryRequests: number;
}

export const FULL: BenchSettings = {
  quick: false,
  // 12 x 1.5 s, as long as the former 9 x 2 s: two whole cycles of the three-side orders
  // (harness/order.ts), so each side holds each place equally often. Not 5: single rounds swing by
  // 10-20 % on a shared 2-core machine, and the median of 5 paired rounds moved by up to 0.1
  // between runs of the same code (README "Noise").
  rounds: 12,
  seconds: 1.5,
  warmupSeconds: 2,
  connections: 20,
  countRequests: 2000,
  stormSize: 1000,
  stormWorkers: 4,
  loginConcurrency: 8,
  memoryWarmupRequests: 5_000,
  memoryRequests: 100_000,
};

export const QUICK: BenchSettings = {
  quick: true,
  rounds: 2,
  seconds: 1.5,
  warmupSeconds: 1,
  connections: 20,
  countRequests: 500,
  stormSize: 200,
  stormWorkers: 4,
  loginConcurrency: 8,
  memoryWarmupRequests: 2000,
  memoryRequests: 10_000,
};

export interface BenchContext {
  settings: BenchSettings;
  sandbox: SandboxProcess;
  /** The runner's own Redis connection (sessions, token records, INFO). */
  redis: CountingRedis;
  /** Prefix of every Redis key this run writes (`bench:<run id>:`); deleted at the end. */
  prefix: string;
  sessionSecret: string;
  /** AES-256-GCM key (hex) shared by the runner and the servers for the token vault. */
  encryptionKey: string;
  log(line: string): void;
}
