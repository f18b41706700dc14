import { ErrorCode } from '../errors';
import { ProviderError } from '../errors';
import { DEFAULT_TIMEOUT_MS, isRecord, providerRequest } from './http';

/** `emails[]` of `/v2/users/me` (scope `contact:read`). */
export interface FractalEmail {
  address: string;
  source_type: 'registration' | 'journey' | 'obsolete' | (string & {});
}

/** `phones[]` of `/v2/users/me` (scope `contact:read`), E.164. */
export interface FractalPhone {
  number: string;
}

/** One verification case: one per level and one per add-on (`basic+liveness` gives two). */
export interface FractalVerificationCase {
  id: string;
  level: string;
  status: 'pending' | 'contacted' | 'done' | (string & {});
  credential: 'pending' | 'approved' | 'rejected' | (string & {});
  journey_completed?: boolean;
  /** Present with a `verification.<name>.details:read` scope; fields differ for persons and institutions. */
  details?: Record<string, unknown>;
  [field: string]: unknown;
}

export type FractalWalletCurrency = 'ada' | 'algo' | 'btc' | 'eth' | 'kar' | 'sol' | 'substrate' | 'sui' | 'xrp';

export interface FractalWallet {
  id: string;
  address: string;
  currency: FractalWalletCurrency | (string & {});
  verified: boolean;
  [field: string]: unknown;
}

/**
 * The answer of `GET /v2/users/me`. Which fields are present depends on the granted scopes.
 * Unknown fields are kept (the provider may add some); they are never errors.
 */
export interface FractalUser {
  uid: string;
  emails?: FractalEmail[];
  phones?: FractalPhone[];
  verification_cases?: FractalVerificationCase[];
  wallets?: FractalWallet[];
  [field: string]: unknown;
}

export interface FetchUserOptions {
  /** Base URL of the resource origin, e.g. https://resource.fractal.id */
  resourceURL: string;
  timeoutMs?: number;
}

/**
 * `GET /v2/users/me` with a bearer token. A 401 becomes `invalid_token` (the token expired or was
 * revoked: refresh or sign in again); any answer that is not the documented shape becomes
 * `invalid_provider_response` rather than a crash further down.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 */
export async function fetchFractalUser(accessToken: string, options: FetchUserOptions): Promise<FractalUser> {
  const res = await providerRequest({
    endpoint: 'users/me',
    url: `${options.resourceURL}/v2/users/me`,
    method: 'GET',
    headers: { authorization: `Bearer ${accessToken}` },
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  });
  if (res.status === 401) {
    throw new ProviderError(ErrorCode.INVALID_TOKEN, 'users/me', 'Fractal ID rejected the access token', {
      providerStatus: 401,
      description: isRecord(res.json) ? res.json.error_description : undefined,
    });
  }
  if (res.status !== 200) {
    const code = res.status >= 500 || res.status === 429 ? ErrorCode.PROVIDER_UNAVAILABLE : ErrorCode.INVALID_PROVIDER_RESPONSE;
    throw new ProviderError(code, 'users/me', `Fractal ID users/me endpoint answered ${res.status}`, {
      providerStatus: res.status,
      description: isRecord(res.json) ? res.json.error_description : undefined,
    });
  }
  return parseFractalUser(res.json);
}

/**
 * Checks the documented fields' types and keeps everything else as it came.
 * @throws ProviderError `invalid_provider_response`
 */
export function parseFractalUser(json: unknown): FractalUser {
  const invalid = (why: string) =>
    new ProviderError(ErrorCode.INVALID_PROVIDER_RESPONSE, 'users/me', `Fractal ID users/me answer is invalid: ${why}`, { providerStatus: 200 });
  if (!isRecord(json)) throw invalid('not a JSON object');
  if (typeof json.uid !== 'string' || json.uid.length === 0) throw invalid('uid missing');
  checkList(json, 'emails', (e) => typeof e.address === 'string', invalid);
  checkList(json, 'phones', (p) => typeof p.number === 'string', invalid);
  checkList(
    json,
    'verification_cases',
    (c) =>
      typeof c.id === 'string' &&
      typeof c.level === 'string' &&
      typeof c.status === 'string' &&
      typeof c.credential === 'string' &&
      (c.details === undefined || c.details === null || isRecord(c.details)),
    invalid,
  );
  checkList(json, 'wallets', (w) => typeof w.id === 'string' && typeof w.address === 'string' && typeof w.currency === 'string', invalid);
  return json as FractalUser;
}

function checkList(
  json: Record<string, unknown>,
  field: string,
  valid: (item: Record<string, unknown>) => boolean,
  invalid: (why: string) => Error,
): void {
  const value = json[field];
  if (value === undefined || value === null) return;
  if (!Array.isArray(value)) throw invalid(`${field} is not a list`);
  for (const item of value) {
    if (!isRecord(item) || !valid(item)) throw invalid(`${field} has an entry of the wrong shape`);
  }
}
