import { ErrorCode } from '../errors';
import { ProviderError } from '../errors';
import { type FractalDetails, readDetails } from './details';
import { DEFAULT_TIMEOUT_MS, isRecord, providerRequest, type ProviderAgents } from './http';

/**
 * `emails[]` of `/v2/users/me` (scope `contact:read`). The docs' table lists `source_type`, their
 * example omits it: it is optional (`user-integration/user-information-retrieval.md`).
 */
export interface FractalEmail {
  address: string;
  /** `registration` (verified, used to sign in), `journey` (unverified), `obsolete` (no longer used). */
  source_type?: 'registration' | 'journey' | 'obsolete' | (string & {});
  [field: string]: unknown;
}

/** `phones[]` of `/v2/users/me` (scope `contact:read`), E.164. */
export interface FractalPhone {
  number: string;
  [field: string]: unknown;
}

/**
 * One verification case. The docs' text says one case per level and per add-on (`basic+liveness`
 * gives two), their examples show one case with `level: "basic+liveness"`: read both. Only `level`
 * is sure to be there; the examples omit `id`, `credential` and `journey_completed`, and older
 * ones put `approved` in `status` (`user-integration/user-information-retrieval.md`).
 */
export interface FractalVerificationCase {
  /** A level or add-on (`basic`, `liveness`), or several joined with `+` (`basic+liveness`). */
  level: string;
  id?: string;
  /** `pending` (Fractal must act), `contacted` (the user must act), `done` (concluded). Legacy answers carry `approved`/`rejected` here. */
  status?: 'pending' | 'contacted' | 'done' | (string & {});
  /** The outcome. A missing credential is never an approval. */
  credential?: 'pending' | 'approved' | 'rejected' | (string & {});
  journey_completed?: boolean;
  /** With a `verification.<name>.details:read` scope; `null` in the docs becomes absent. */
  details?: FractalDetails;
  /** Deprecated (Coinfirm AML report of the wallet add-on); kept as it came. */
  report?: Record<string, unknown>;
  [field: string]: unknown;
}

export type FractalWalletCurrency = 'ada' | 'algo' | 'btc' | 'eth' | 'kar' | 'sol' | 'substrate' | 'sui' | 'xrp';

/** `wallets[]`: the docs' table lists `id` and `verified`, their example has neither. */
export interface FractalWallet {
  address: string;
  /** Represents the add-on used to ask for the wallet (`wallet-eth` gives `eth` for any EVM wallet). */
  currency?: FractalWalletCurrency | (string & {});
  id?: string;
  verified?: boolean;
  [field: string]: unknown;
}

/**
 * The answer of `GET /v2/users/me`, read tolerantly. Which fields are present depends on the
 * granted scopes; only `uid` is sure. Unknown fields are kept (the provider may add some).
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
  /** Agents for the call (proxy, private CA). */
  agents?: ProviderAgents;
}

/**
 * `GET /v2/users/me` with a bearer token. A 401 becomes `invalid_token` (the token expired or was
 * revoked: refresh or sign in again); an answer without a
 * `uid` becomes `invalid_provider_response`; everything else is read tolerantly (see {@link parseFractalUser}).
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
    ...(options.agents ? { agents: options.agents } : {}),
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
 * Reads a `/v2/users/me` answer the way the docs' own examples need: only a non-empty string `uid`
 * is required. Every other documented field may be missing or `null`, and one of the wrong type is
 * left out as if absent rather than failing the sign-in. A list entry without the value that makes
 * it an entry (an email's `address`, a phone's `number`, a case's `level`, a wallet's `address`) is
 * skipped. Unknown fields, top level and nested, are kept as they came.
 *
 * @throws ProviderError `invalid_provider_response` when the answer is not an object or has no uid.
 */
export function parseFractalUser(json: unknown): FractalUser {
  const invalid = (why: string) =>
    new ProviderError(ErrorCode.INVALID_PROVIDER_RESPONSE, 'users/me', `Fractal ID users/me answer is invalid: ${why}`, { providerStatus: 200 });
  if (!isRecord(json)) throw invalid('not a JSON object');
  if (typeof json.uid !== 'string' || json.uid.length === 0) throw invalid('uid missing');
  const user = withoutDocumented(json, ['emails', 'phones', 'verification_cases', 'wallets']) as FractalUser;
  user.uid = json.uid;
  setList(user, 'emails', json.emails, readEmail);
  setList(user, 'phones', json.phones, readPhone);
  setList(user, 'verification_cases', json.verification_cases, readCase);
  setList(user, 'wallets', json.wallets, readWallet);
  return user;
}

function readEmail(e: Record<string, unknown>): FractalEmail | undefined {
  if (!nonEmpty(e.address)) return undefined;
  return keep(withoutDocumented(e, ['source_type']), { address: e.address, source_type: str(e.source_type) });
}

function readPhone(p: Record<string, unknown>): FractalPhone | undefined {
  if (!nonEmpty(p.number)) return undefined;
  return { ...withoutDocumented(p, []), number: p.number };
}

function readCase(c: Record<string, unknown>): FractalVerificationCase | undefined {
  if (!nonEmpty(c.level)) return undefined;
  return keep(withoutDocumented(c, ['id', 'status', 'credential', 'journey_completed', 'details', 'report']), {
    level: c.level,
    id: str(c.id),
    status: str(c.status),
    credential: str(c.credential),
    journey_completed: typeof c.journey_completed === 'boolean' ? c.journey_completed : undefined,
    details: isRecord(c.details) ? readDetails(c.details) : undefined,
    report: isRecord(c.report) ? c.report : undefined,
  });
}

function readWallet(w: Record<string, unknown>): FractalWallet | undefined {
  if (!nonEmpty(w.address)) return undefined;
  return keep(withoutDocumented(w, ['currency', 'id', 'verified']), {
    address: w.address,
    currency: str(w.currency),
    id: str(w.id),
    verified: typeof w.verified === 'boolean' ? w.verified : undefined,
  });
}

function setList<T>(
  user: FractalUser,
  field: 'emails' | 'phones' | 'verification_cases' | 'wallets',
  value: unknown,
  read: (item: Record<string, unknown>) => T | undefined,
): void {
  if (!Array.isArray(value)) return;
  const items: T[] = [];
  for (const item of value) {
    const read_ = isRecord(item) ? read(item) : undefined;
    if (read_ !== undefined) items.push(read_);
  }
  (user as Record<string, unknown>)[field] = items;
}

/** A copy of the unknown fields (own properties only, so a `__proto__` key stays a plain field). */
function withoutDocumented(record: Record<string, unknown>, documented: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([k]) => !documented.includes(k)));
}

/** Adds the documented fields that were usable; absent ones stay absent rather than `undefined`. */
function keep<T extends object>(rest: Record<string, unknown>, documented: T): T {
  for (const [k, v] of Object.entries(documented)) if (v !== undefined) rest[k] = v;
  return rest as T;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}
