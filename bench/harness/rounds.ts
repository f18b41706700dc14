import type { ChildServer } from './child';
import type { LoadSample } from './load';
import { fmt } from './format';
import { roundOrder } from './order';
import { median } from './stats';

/** One variant of a scenario (a baseline or ours), measured for a given time. */
export interface Side {
  key: string;
  label: string;
  measure(seconds: number): Promise<LoadSample>;
}

export interface RoundsOptions {
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  log: (line: string) => void;
}

export interface SideSummary {
  key: string;
  label: string;
  rounds: LoadSample[];
  /** The discarded warm-up measurement. */
  warmup?: LoadSample;
  rps: number;
  p50: number;
  p99: number;
  /** Median server CPU µs per successful request, when measured. */
  cpuUs: number;
  failed: number;
}

/**
 * Measures every side once to warm up (discarded), then in `rounds` rounds, in counterbalanced
 * orders ({@link roundOrder}), so that slow drifts of the shared machine and a side's place in the
 * round hit every side alike. Medians per side.
 */
export async function alternate(sides: readonly Side[], options: RoundsOptions): Promise<SideSummary[]> {
  const samples = new Map<string, LoadSample[]>(sides.map((side) => [side.key, []]));
  const warmups = new Map<string, LoadSample>();
  for (const side of sides) {
    const warm = await side.measure(options.warmupSeconds);
    warmups.set(side.key, warm);
    options.log(`  warm-up ${side.label}: ${Math.round(warm.rps)}/s${warm.failed ? `, ${warm.failed} failed` : ''}`);
  }
  for (let round = 0; round < options.rounds; round++) {
    for (const index of roundOrder(sides.length, round)) {
      const side = sides[index] as Side;
      const sample = await side.measure(options.seconds);
      samples.get(side.key)?.push(sample);
      options.log(`  round ${round + 1} ${side.label}: ${Math.round(sample.rps)}/s p50 ${fmt.ms(sample.p50)} ms p99 ${fmt.ms(sample.p99)} ms${sample.cpuUs === undefined ? '' : `, server CPU ${fmt.int(sample.cpuUs)} µs/req`}${sample.failed ? `, ${sample.failed} failed` : ''}`);
    }
  }
  return sides.map((side) => ({ ...summarize(side.key, side.label, samples.get(side.key) ?? []), warmup: warmups.get(side.key) }));
}

export function summarize(key: string, label: string, rounds: LoadSample[]): SideSummary {
  return {
    key,
    label,
    rounds,
    rps: median(rounds.map((s) => s.rps)),
    p50: median(rounds.map((s) => s.p50)),
    p99: median(rounds.map((s) => s.p99)),
    cpuUs: median(rounds.flatMap((s) => (s.cpuUs === undefined ? [] : [s.cpuUs]))),
    failed: rounds.reduce((n, s) => n + s.failed, 0),
  };
}

/**
 * Adds the server's CPU time per successful request to a measurement (process.cpuUsage() before and
 * after, over IPC). Unlike throughput, it hardly depends on what else the shared machine is doing.
 */
export function withServerCpu(server: ChildServer, measure: (seconds: number) => Promise<LoadSample>): (seconds: number) => Promise<LoadSample> {
  return async (seconds) => {
    const before = await server.request<NodeJS.CpuUsage>('cpu');
    const sample = await measure(seconds);
    const after = await server.request<NodeJS.CpuUsage>('cpu');
    const us = after.user + after.system - before.user - before.system;
    return { ...sample, cpuUs: sample.ok > 0 ? us / sample.ok : Number.NaN };
  };
}

/**
 * Ratios side / base of the samples taken in the same round (back to back, so under the same
 * conditions of the shared machine), and their median: the figure the targets are checked against.
 */
export function pairedRatios(base: SideSummary, side: SideSummary, value: (s: LoadSample) => number = (s) => s.rps): { perRound: number[]; median: number } {
  const perRound = side.rounds.map((sample, i) => {
    const other = base.rounds[i];
    return other ? value(sample) / value(other) : Number.NaN;
  });
  return { perRound, median: median(perRound) };
}
