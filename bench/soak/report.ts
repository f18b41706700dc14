import { fmt } from '../harness/format';
import type { HeapReport } from '../harness/ipc';
import type { LostGrant } from './traffic';

export interface SoakReport {
  seconds: number;
  settings: Record<string, number>;
  requests: number;
  /** `route status` -> answers; transport failures under their error code. */
  answers: Record<string, number>;
  signIns: number;
  signInFailures: Record<string, { n: number; atSecond: number[] }>;
  users: number;
  /** Successful refresh_token grants at the sandbox. */
  refreshCalls: number;
  /** Token endpoint answers that were not a success (injected faults included). */
  failedTokenCalls: number;
  codeExchanges: number;
  /** Estimated access-token expiries the traffic ran into (at least one refresh each). */
  expiries: number;
  /** The same at the vault's early-refresh point (half of a 5 s lifetime). */
  refreshPoints: number;
  endedByProvider: number;
  lost: LostGrant[];
  sweep: { ok: number; transient: number; signedOut: number };
  faults: { atSecond: number; name: string }[];
  heap: { name: string; processes: { pid: number; start: HeapReport; end?: HeapReport }[] }[];
  /** The apps' own log lines (5xx causes), counted by their text before the first colon. */
  appLogs: Record<string, number>;
}

/** Human-readable lines, then the whole report as one JSON line (for the README and for tools). */
export function printReport(r: SoakReport): void {
  const byStatus: Record<string, number> = {};
  for (const [key, n] of Object.entries(r.answers)) {
    const status = key.slice(key.lastIndexOf(' ') + 1);
    byStatus[status] = (byStatus[status] ?? 0) + n;
  }
  const lines = [
    '',
    `Soak: ${r.seconds} s, 4 app processes, ${r.users} users, ${fmt.int(r.requests)} requests to the apps`,
    `Answers by status: ${Object.entries(byStatus).map(([s, n]) => `${s}: ${fmt.int(n)}`).join(', ')}`,
    ...Object.entries(r.answers).map(([key, n]) => `  ${key.padEnd(40)} ${fmt.int(n).padStart(8)}`),
    `Sign-ins: ${fmt.int(r.signIns)} completed (${fmt.int(r.codeExchanges)} code exchanges); failed:`,
    ...Object.entries(r.signInFailures).map(([reason, f]) => `  ${reason.padEnd(40)} ${fmt.int(f.n).padStart(8)}  (first at ${f.atSecond.join(', ')} s)`),
    `Refresh calls: ${fmt.int(r.refreshCalls)} successful, ${fmt.int(r.failedTokenCalls)} failed token calls (faults included)`,
    `  access-token expiries met by the traffic: ${fmt.int(r.expiries)} (${fmt.ratio(r.refreshCalls / r.expiries)} refreshes per expiry); vault refresh points (half the lifetime): ${fmt.int(r.refreshPoints)} (${fmt.ratio(r.refreshCalls / r.refreshPoints)} refreshes per point)`,
    `Faults: ${r.faults.map((f) => `${f.atSecond} s ${f.name}`).join('; ')}`,
    `Final check: ${r.sweep.ok} users served, ${r.sweep.transient} still failing transiently, ${r.sweep.signedOut} signed out`,
    `Signed out by the provider (grant ended, not lost): ${r.endedByProvider}`,
    `GRANTS LOST: ${r.lost.length}`,
    ...r.lost.slice(0, 10).map((l) => `  at ${l.atSecond} s, ${l.route}: ${l.answer} (faults in the 20 s before: ${l.recentFaults.join(', ') || 'none'})`),
    ...(r.lost.length > 10 ? [`  ... and ${r.lost.length - 10} more (all in the JSON line below)`] : []),
    'Heap used after full GC, per process (start -> end):',
    ...r.heap.map((h) => `  ${h.name}: ${h.processes.map((p) => `pid ${p.pid} ${fmt.mib(p.start.heapUsed)} -> ${p.end ? fmt.mib(p.end.heapUsed) : 'killed'}`).join(', then ')}`),
    `App log lines (5xx causes): ${JSON.stringify(r.appLogs)}`,
    '',
  ];
  console.log(lines.join('\n'));
  console.log(`SOAK_REPORT ${JSON.stringify(r)}`);
}
