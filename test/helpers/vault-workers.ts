import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { VaultSandbox } from './vault-sandbox';
import type { WorkerConfig, WorkerReply, WorkerRequest } from '../fixtures/vault-worker';

const WORKER = join(__dirname, '..', 'fixtures', 'vault-worker.ts');

export interface VaultWorker {
  readonly child: ChildProcess;
  /** Resolves once the worker's vault is connected and warmed up. */
  readonly ready: Promise<void>;
  /** Resolves when the process ends, with how it ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** `count` concurrent getAccessToken() calls in the worker. */
  storm(userId: string, count: number): Promise<{ tokens: string[]; errors: string[]; issuedAt: number }>;
  /** Asks the worker to exit (kills it if it does not within 5 s). */
  stop(): Promise<void>;
}

/** Forks test/fixtures/vault-worker.ts: a separate Node process with its own vault and Redis client. */
export function forkVaultWorker(config: WorkerConfig): VaultWorker {
  const child = fork(WORKER, [], {
    execArgv: ['-r', 'ts-node/register/transpile-only'],
    env: { ...process.env, VAULT_WORKER_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const nextReply = <T extends WorkerReply['type']>(type: T): Promise<Extract<WorkerReply, { type: T }>> =>
    new Promise((resolve, reject) => {
      const onMessage = (message: WorkerReply) => {
        if (message.type !== type) return;
        cleanup();
        resolve(message as Extract<WorkerReply, { type: T }>);
      };
      const onExit = (code: number | null, signal: string | null) => {
        cleanup();
        reject(new Error(`vault worker exited (code ${code}, signal ${signal}) before answering ${type}`));
      };
      const cleanup = () => {
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const ready = nextReply('ready').then(() => undefined);
  const send = (request: WorkerRequest) => child.send(request);
  return {
    child,
    ready,
    exited,
    async storm(userId, count) {
      const reply = nextReply('result');
      send({ type: 'storm', userId, count });
      const { tokens, errors, issuedAt } = await reply;
      return { tokens, errors, issuedAt };
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      if (child.connected) send({ type: 'exit' });
      else child.kill('SIGKILL');
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * The storm both the plain-Redis and the Cluster tests run: four ready workers, a token endpoint
 * slowed so the refresh is still in flight while all of them pile in, 50 calls each. Asserts the
 * single-flight outcome (no errors, 200 identical new tokens, exactly one refresh) and returns the
 * token everyone got.
 *
 * "Exactly one refresh" would hold just as well for storms that ran one after the other (the
 * first refreshes, the rest find a fresh token), so it also proves the overlap at the server:
 * every worker had issued all its calls before the token endpoint answered the one refresh.
 */
export async function stormForOneRefresh(
  workers: readonly VaultWorker[],
  env: Pick<VaultSandbox, 'sandbox' | 'tokenAnswers'>,
  uid: string,
  oldAccessToken: string,
): Promise<string> {
  const { sandbox } = env;
  await Promise.all(workers.map((w) => w.ready));
  sandbox.resetCounts();
  sandbox.injectFault('token', { kind: 'delay', ms: 1000, times: 1 });
  const answersBefore = env.tokenAnswers.length;
  const results = await Promise.all(workers.map((w) => w.storm(uid, 50)));
  const answers = env.tokenAnswers.slice(answersBefore);
  expect(answers.map((a) => a.status)).toEqual([200]);
  const refresh = answers[0] as VaultSandbox['tokenAnswers'][number];
  for (const { issuedAt } of results) expect(issuedAt).toBeLessThan(refresh.finishedAt);
  expect(results.flatMap((r) => r.errors)).toEqual([]);
  const tokens = results.flatMap((r) => r.tokens);
  expect(tokens).toHaveLength(workers.length * 50);
  expect(new Set(tokens).size).toBe(1);
  expect(tokens[0]).not.toBe(oldAccessToken);
  expect(sandbox.counts().token).toMatchObject({ refresh_token: 1, failed: 0 });
  return tokens[0] as string;
}
