/**
 * Answers of Fractal ID's statistics API (`GET /v2/stats/*`, scope `client.stats:read`), as
 * `back-office-integration/application-statistics.md` documents them; unknown fields are kept,
 * never errors.
 */

/**
 * Statuses the statistics report ("User statuses" table). `expired`: the user's proof of address or
 * identity expired and the app has expiration enabled; the endpoints' examples never show it.
 */
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

/**
 * `GET /v2/stats/country-verifications`: counts keyed by ISO 3166-1 alpha-2 country code. A country
 * lists only the statuses it has (`{"DK": {"approved": 12}}`): a missing status counts 0.
 */
export type CountryVerifications = Record<string, StatusCounts>;

/** One entry of `GET /v2/stats/user-verifications`: one per user and level. */
export interface UserVerification {
  user_id: string;
  /** A level or `+`-joined levels and add-ons; legacy names (`v1`, `light+selfie+wallet`) appear too. */
  level: string;
  /** Absent when the provider sent none or a non-string; never read absence as an approval. */
  credential?: VerificationStatus | (string & {});
  [field: string]: unknown;
}

/** `GET /v2/stats/user-verifications` (no parameters): every user of the app, one entry per level. */
export type UserVerifications = UserVerification[];
