import type { SandboxUser, SandboxVerificationCase } from '../types';

/**
 * The statistics API's figures, derived from the verification cases of every user the sandbox
 * knows, in the shapes of `back-office-integration/application-statistics.md`: the four totals,
 * countries listing only the statuses they have, and an array of `{user_id, level, credential}`.
 * The sandbox has no document expiry, so it never reports `expired`.
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

/** `{ "US": { "approved": 8, "pending": 3 }, "DK": { "approved": 12 } }`: only the statuses a country has. */
export function countryVerifications(users: Iterable<SandboxUser>): Record<string, Partial<StatusTotals>> {
  const result: Record<string, Partial<StatusTotals>> = {};
  for (const user of users) {
    if (user.verificationCases.length === 0) continue;
    result[user.country] ??= {};
    const totals = result[user.country] as Partial<StatusTotals>;
    for (const c of user.verificationCases) {
      const status = statsStatus(c);
      totals[status] = (totals[status] ?? 0) + 1;
    }
  }
  return result;
}

export interface UserVerificationEntry {
  user_id: string;
  level: string;
  credential: StatsStatus;
}

/** `[{ user_id, level, credential }]`, one entry per user and case; the endpoint takes no parameters. */
export function userVerifications(users: Iterable<SandboxUser>): UserVerificationEntry[] {
  const result: UserVerificationEntry[] = [];
  for (const user of users) {
    for (const c of user.verificationCases) result.push({ user_id: user.uid, level: c.level, credential: statsStatus(c) });
  }
  return result;
}

function emptyTotals(): StatusTotals {
  return { approved: 0, contacted: 0, rejected: 0, pending: 0 };
}
