import fc from 'fast-check';

/**
 * Property runs use a fixed seed so a failure reproduces; FUZZ_SEED overrides it and fast-check
 * prints the seed and the shrunk counterexample on failure. FUZZ_RUNS lowers the count locally.
 */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261123);
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);

export function fuzzParameters<T>(extra: fc.Parameters<T> = {}): fc.Parameters<T> {
  return { seed: FUZZ_SEED, numRuns: FUZZ_RUNS, endOnFailure: true, ...extra };
}
