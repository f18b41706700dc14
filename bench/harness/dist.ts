import { join } from 'node:path';

/**
 * The benchmarks measure what users run: the compiled library in `dist/` (`npm run bench` builds it
 * first). `BENCH_DIST` points them at another build. Types come from the sources, so `bench/`
 * type-checks without a build.
 */
export const REPO_ROOT = join(__dirname, '..', '..');
export const DIST_DIR = process.env.BENCH_DIST ?? join(REPO_ROOT, 'dist');

export type FractalLib = typeof import('../../lib/index');
export type SandboxLib = typeof import('../../lib/sandbox/index');
export type TokensLib = typeof import('../../lib/tokens/index');
export type WebhooksLib = typeof import('../../lib/webhooks/index');
export type ProviderLib = typeof import('../../lib/provider/index');

function load<T>(path: string): T {
  try {
    return require(join(DIST_DIR, path)) as T;
  } catch (err) {
    throw new Error(`Cannot load ${join(DIST_DIR, path)}: run \`npm run build\` first (${(err as Error).message})`);
  }
}

export const loadFractal = (): FractalLib => load('index.js');
export const loadSandbox = (): SandboxLib => load('sandbox/index.js');
export const loadTokens = (): TokensLib => load('tokens/index.js');
export const loadWebhooks = (): WebhooksLib => load('webhooks/index.js');
/** The token client is internal (not exported by the main entry); the benchmarks drive it directly. */
export const loadProvider = (): ProviderLib => load('provider/index.js');
