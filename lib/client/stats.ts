import { ErrorCode } from '../errors';
import { ProviderError } from '../errors';
import { isRecord } from '../provider';
import type { CountryVerifications, StatusCounts, TotalVerifications, UserVerification, UserVerifications } from './types';

/**
 * Shape checks of the statistics answers (`back-office-integration/application-statistics.md`): a
 * body that is not what we type it as becomes `invalid_provider_response` here, not a `TypeError`
 * in a dashboard. Unknown fields pass through.
 */

const DOCUMENTED_TOTALS = ['approved', 'contacted', 'rejected', 'pending'] as const;
const KNOWN_STATUSES = [...DOCUMENTED_TOTALS, 'expired'] as const;

export function parseTotalVerifications(json: unknown): TotalVerifications {
  const endpoint = 'stats/total-verifications';
  const counts = parseCounts(json, endpoint, 'the answer');
  for (const status of DOCUMENTED_TOTALS) {
    if (counts[status] === undefined) throw invalid(endpoint, `"${status}" is missing`);
  }
  return counts as TotalVerifications;
}

export function parseCountryVerifications(json: unknown): CountryVerifications {
  const endpoint = 'stats/country-verifications';
  if (!isRecord(json)) throw invalid(endpoint, 'not a JSON object keyed by country');
  const result: CountryVerifications = {};
  // A country lists only the statuses it has (the docs' `"DK": {"approved": 12}`).
  for (const [country, counts] of Object.entries(json)) {
    Object.defineProperty(result, country, { value: parseCounts(counts, endpoint, `"${country}"`), enumerable: true, writable: true, configurable: true });
  }
  return result;
}

/**
 * An array of `{user_id, level, credential}`. Like `/v2/users/me`, read tolerantly: an entry without
 * a usable `user_id` or `level` is skipped, a `credential` of the wrong type is absent, unknown
 * fields are kept. Anything but an array is `invalid_provider_response`.
 */
export function parseUserVerifications(json: unknown): UserVerifications {
  const endpoint = 'stats/user-verifications';
  if (!Array.isArray(json)) throw invalid(endpoint, 'not a JSON array of {user_id, level, credential}');
  const result: UserVerifications = [];
  for (const entry of json) {
    if (!isRecord(entry) || !nonEmpty(entry.user_id) || !nonEmpty(entry.level)) continue;
    // Object.fromEntries: a `__proto__` key stays a plain field.
    const copy = Object.fromEntries(Object.entries(entry).filter(([k]) => k !== 'credential')) as UserVerification;
    if (typeof entry.credential === 'string') copy.credential = entry.credential;
    result.push(copy);
  }
  return result;
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

function parseCounts(value: unknown, endpoint: string, what: string): StatusCounts {
  if (!isRecord(value)) throw invalid(endpoint, `${what} is not an object of counts`);
  for (const status of KNOWN_STATUSES) {
    const count = value[status];
    if (count !== undefined && !(typeof count === 'number' && Number.isInteger(count) && count >= 0)) {
      throw invalid(endpoint, `"${status}" of ${what} is not a non-negative integer`);
    }
  }
  return value as StatusCounts;
}

function invalid(endpoint: string, why: string): ProviderError {
  return new ProviderError(ErrorCode.INVALID_PROVIDER_RESPONSE, endpoint, `Fractal ID ${endpoint} answer is invalid: ${why}`, {
    providerStatus: 200,
  });
}
