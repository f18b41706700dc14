import { ConfigurationError } from '../errors';
import { ErrorCode } from '../errors';
import { ProviderError } from '../errors';
import { isRecord } from '../provider';
import type { CountryVerifications, StatusCounts, TotalVerifications, UserVerifications } from './types';

/**
 * Shape checks of the statistics answers: a body that is not what we type it as becomes
 * `invalid_provider_response` here, not a `TypeError` in a dashboard. Unknown fields pass through.
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
  for (const [country, counts] of Object.entries(json)) result[country] = parseCounts(counts, endpoint, `"${country}"`);
  return result;
}

export function parseUserVerifications(json: unknown): UserVerifications {
  const endpoint = 'stats/user-verifications';
  if (!isRecord(json)) throw invalid(endpoint, 'not a JSON object keyed by user id');
  const result: UserVerifications = {};
  for (const [uid, levels] of Object.entries(json)) {
    if (!isRecord(levels)) throw invalid(endpoint, `the entry of a user is not an object`);
    for (const status of Object.values(levels)) {
      if (typeof status !== 'string') throw invalid(endpoint, 'a level status is not a string');
    }
    result[uid] = levels as Record<string, string>;
  }
  return result;
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

/**
 * Validates and de-duplicates user ids and splits them into batches small enough for one URL.
 * Ids travel comma-separated (`user_ids=a,b`), so an id containing a comma cannot be sent.
 */
export function userIdBatches(userIds: readonly string[], batchSize: number): string[][] {
  if (!Array.isArray(userIds)) throw new ConfigurationError('userVerifications(ids) needs an array of user ids');
  const unique = [...new Set(userIds)];
  for (const id of unique) {
    if (typeof id !== 'string' || id.trim().length === 0 || id.includes(',')) {
      throw new ConfigurationError('User ids must be non-empty strings without commas (they are sent as user_ids=a,b)');
    }
  }
  const batches: string[][] = [];
  for (let i = 0; i < unique.length; i += batchSize) batches.push(unique.slice(i, i + batchSize));
  return batches;
}

/** `?user_ids=a,b`: each id percent-encoded, the separators literal. */
export function userIdsQuery(ids: readonly string[]): string {
  return `?user_ids=${ids.map(encodeURIComponent).join(',')}`;
}
