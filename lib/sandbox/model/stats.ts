import type { SandboxUser, SandboxVerificationCase } from '../types';

/**
 * The statistics API's figures, derived from the verification cases of every user the sandbox
 * knows. The provider documents the endpoints and the status names, not the exact shapes of the
 * per-country and per-user answers; these shapes are the sandbox's (see the README).
 */

export type StatsStatus = 'approved' | 'contacted' | 'rejected' | 'pending';
export type StatusTotals = Record<StatsStatus, number>;

/** A case's status as the statistics report it: the credential decides, then the journey status. */
export function statsStatus(c: SandboxVerificationCase): StatsStatus {
  if (c.credential === 'approved') return 'approved';
  if (c.credential === 'rejected') return 'rejected';
  if (c.status === 'contacted') return 'contacted';
  return 'pending';
}

export function totalVerifications(users: Iterable<SandboxUser>): StatusTotals {
  const totals = emptyTotals();
  for (const user of users) for (const c of user.verificationCases) totals[statsStatus(c)] += 1;
  return totals;
}

/** `{ "DE": { approved, contacted, rejected, pending }, ... }`, ISO 3166-1 alpha-2 keys. */
export function countryVerifications(users: Iterable<SandboxUser>): Record<string, StatusTotals> {
  const result: Record<string, StatusTotals> = {};
  for (const user of users) {
    result[user.country] ??= emptyTotals();
    const totals = result[user.country];
    for (const c of user.verificationCases) totals[statsStatus(c)] += 1;
  }
  return result;
}

/** `{ "<uid>": { "basic": "approved", "liveness": "pending" } }`; unknown uids are left out. */
export function userVerifications(users: Iterable<SandboxUser>, uids: readonly string[]): Record<string, Record<string, StatsStatus>> {
  const wanted = new Set(uids);
  const result: Record<string, Record<string, StatsStatus>> = {};
  for (const user of users) {
    if (!wanted.has(user.uid)) continue;
    const levels: Record<string, StatsStatus> = {};
    for (const c of user.verificationCases) levels[c.level] = statsStatus(c);
    result[user.uid] = levels;
  }
  return result;
}

function emptyTotals(): StatusTotals {
  return { approved: 0, contacted: 0, rejected: 0, pending: 0 };
}
