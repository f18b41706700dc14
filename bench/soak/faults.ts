import { postJson } from '../harness/http';
import type { SandboxFault } from '../../lib/sandbox/types';

/** A fault and when it happens, as a fraction of the run. */
export interface PlannedFault {
  at: number;
  name: string;
  run: () => Promise<void>;
}

export interface FaultTargets {
  sandboxAuth: string;
  /** The vault's per-request timeout at the provider (lib/tokens/vault.ts default). */
  providerTimeoutMs: number;
  /** Whether Redis keeps an AOF (`--no-persist` turns it off). */
  persist: boolean;
  restartRedis: () => Promise<void>;
  killAndRestartApp: () => Promise<void>;
}

const inject = (auth: string, fault: SandboxFault) => postJson<void>(`${auth}/_sandbox/faults`, { endpoint: 'token', fault });

/**
 * The injection plan: each fault once (503s twice), spread over the first 85 % of the run so the
 * last part shows recovery. Token faults hit whatever token request comes next: refreshes mostly,
 * code exchanges of sign-ins sometimes.
 */
export function faultPlan(t: FaultTargets): PlannedFault[] {
  return [
    { at: 0.1, name: 'token endpoint 503 x6', run: () => inject(t.sandboxAuth, { kind: 'status', status: 503, times: 6 }) },
    {
      at: 0.2,
      name: `token endpoint timeouts x3 (${t.providerTimeoutMs + 1000} ms delay)`,
      run: () => inject(t.sandboxAuth, { kind: 'delay', ms: t.providerTimeoutMs + 1000, times: 3 }),
    },
    { at: 0.3, name: 'token response lost x3 (handled, connection cut)', run: () => inject(t.sandboxAuth, { kind: 'lost-answer', times: 3 }) },
    { at: 0.45, name: `Redis restart (SIGKILL, 2 s down${t.persist ? ', AOF restores' : ', NO persistence'})`, run: t.restartRedis },
    { at: 0.6, name: 'app process SIGKILL, then restarted', run: t.killAndRestartApp },
    {
      at: 0.75,
      name: 'token endpoint 503 x4 + lost response x2',
      run: async () => {
        await inject(t.sandboxAuth, { kind: 'status', status: 503, headers: { 'Retry-After': '1' }, times: 4 });
        await inject(t.sandboxAuth, { kind: 'lost-answer', times: 2 });
      },
    },
  ];
}
