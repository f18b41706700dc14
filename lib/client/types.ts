/**
 * Answers of Fractal ID's statistics API (`GET /v2/stats/*`, scope `client.stats:read`).
 *
 * The provider documents the endpoints, the four totals and the status names (approved, rejected,
 * pending, contacted, expired); it does not document the exact per-country and per-user shapes.
 * The shapes below are the ones the sandbox serves; unknown fields are kept, never errors.
 */

/** Statuses the provider's statistics report. `expired` is documented but not part of the totals' example. */
export type VerificationStatus = 'approved' | 'rejected' | 'pending' | 'contacted' | 'expired';

/** Counts per status. Known statuses are numbers when present; other fields pass through. */
export interface StatusCounts {
  approved?: number;
  contacted?: number;
  rejected?: number;
  pending?: number;
  expired?: number;
  [field: string]: unknown;
}

/** `GET /v2/stats/total-verifications`: the four documented totals are always there. */
export interface TotalVerifications extends StatusCounts {
  approved: number;
  contacted: number;
  rejected: number;
  pending: number;
}

/** `GET /v2/stats/country-verifications`: counts keyed by ISO 3166-1 alpha-2 country code. */
export type CountryVerifications = Record<string, StatusCounts>;

/** `GET /v2/stats/user-verifications`: per user id, the status of each level and add-on. Unknown ids are absent. */
export type UserVerifications = Record<string, Record<string, VerificationStatus | (string & {})>>;
