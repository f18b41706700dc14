import { lockTtlFor, resolveProviderConfig, tokenClientFor, type FractalDomains, type FractalProviderOptions } from '../provider';
import { ConfigurationError } from '../errors';
import type { FractalError } from '../errors';
import { CLIENT_STATS_SCOPE } from '../provider';
import { fetchFractalUser, type FractalUser } from '../provider';
import { AppTokens } from './app-tokens';
import { AppResource } from './resource';
import { parseCountryVerifications, parseTotalVerifications, parseUserVerifications } from './stats';
import { MemoryAppTokenCache, type AppTokenCache } from './token-cache';
import type { CountryVerifications, TotalVerifications, UserVerifications } from './types';

/**
 * The shared provider options (`clientID`, `clientSecret`, `environment`, `domains`, `tokenURL`,
 * `authMethod`, `timeoutMs` default 10 000 ms, `retry`: see {@link FractalProviderOptions}) and the
 * client's own.
 */
export interface FractalClientOptions extends FractalProviderOptions {
  /**
   * Where app tokens are cached. Default: a `MemoryAppTokenCache` of this client (one token
   * request per process and expiry). `RedisAppTokenCache` shares them across processes.
   */
  tokenCache?: AppTokenCache;
  /** Scopes of the app token. Default `['client.stats:read']`, the only client scope Fractal ID documents. */
  scopes?: readonly string[];
  /** Fetch a new app token this long before the current one expires (at most half its lifetime). Default 60 000 ms. */
  expiryMarginMs?: number;
  /** Lifetime of the cross-process fetch lock. Default: enough for every token attempt to time out, plus 5 s. */
  lockTtlMs?: number;
  /** How long a call waits for another process's token fetch. Default `lockTtlMs` + 5 s. */
  waitTimeoutMs?: number;
  /**
   * @deprecated Ignored. `user-verifications` takes no parameters
   * (`back-office-integration/application-statistics.md`); an earlier version sent an undocumented
   * `user_ids=` in batches of this size.
   */
  userBatchSize?: number;
  /**
   * Called when the token cache failed (Redis down or slow) and the token was fetched without it.
   * Calls still succeed; wire this to your logs to notice that processes no longer share tokens.
   */
  onCacheError?: (err: FractalError) => void;
}

/** `client.stats`: Fractal ID's statistics API, with the app token handled for you. */
export interface FractalStatsApi {
  /** `GET /v2/stats/total-verifications`. */
  totalVerifications(): Promise<TotalVerifications>;
  /** `GET /v2/stats/country-verifications`. */
  countryVerifications(): Promise<CountryVerifications>;
  /**
   * `GET /v2/stats/user-verifications` (no parameters): every user of the app, one entry
   * `{user_id, level, credential}` per user and level. Filter it yourself for some users.
   */
  userVerifications(): Promise<UserVerifications>;
}

/** `client.users`: calls made with a USER's token (from the sign-in or the token vault). */
export interface FractalUsersApi {
  /** `GET /v2/users/me`. A 401 is `invalid_token`: refresh the user's token (the vault does it for you). */
  me(accessToken: string): Promise<FractalUser>;
}

/**
 * Fractal ID's back office for unattended jobs: statistics through the client credentials grant
 * (scope `client.stats:read`), and `users.me` for a user's token.
 *
 * @example
 * const fractal = new FractalClient({ clientID, clientSecret, environment: 'staging' });
 * const { approved, pending } = await fractal.stats.totalVerifications();
 */
export class FractalClient {
  readonly stats: FractalStatsApi;
  readonly users: FractalUsersApi;
  /** The resolved origins. */
  readonly domains: Readonly<FractalDomains>;
  readonly #tokens: AppTokens;
  readonly #ownCache: AppTokenCache | undefined;

  constructor(options: FractalClientOptions) {
    const provider = resolveProviderConfig(options, 'FractalClient');
    const { domains, timeoutMs, retry, tokenURL } = provider;
    const lockTtlMs = positive('lockTtlMs', options.lockTtlMs, lockTtlFor(timeoutMs, retry));
    const scopes = [...(options.scopes ?? [CLIENT_STATS_SCOPE])];
    if (scopes.length === 0) throw new ConfigurationError('FractalClient `scopes` must not be empty; omit it for client.stats:read');
    this.#ownCache = options.tokenCache ? undefined : new MemoryAppTokenCache();
    this.domains = Object.freeze({ ...domains });
    this.#tokens = new AppTokens({
      cache: options.tokenCache ?? (this.#ownCache as AppTokenCache),
      tokenClient: tokenClientFor(provider),
      tokenURL,
      clientID: options.clientID,
      scopes,
      expiryMarginMs: nonNegative('expiryMarginMs', options.expiryMarginMs, 60_000),
      lockTtlMs,
      waitTimeoutMs: positive('waitTimeoutMs', options.waitTimeoutMs, lockTtlMs + 5000),
      retry,
      onCacheError: options.onCacheError,
    });
    const agents = provider.agents ? { agents: provider.agents } : {};
    const resource = new AppResource({ resourceURL: domains.resource, tokens: this.#tokens, timeoutMs, retry, ...agents });

    this.stats = {
      totalVerifications: () => resource.get('stats/total-verifications', '/v2/stats/total-verifications', parseTotalVerifications),
      countryVerifications: () => resource.get('stats/country-verifications', '/v2/stats/country-verifications', parseCountryVerifications),
      userVerifications: () => resource.get('stats/user-verifications', '/v2/stats/user-verifications', parseUserVerifications),
    };
    this.users = {
      me: (accessToken) => fetchFractalUser(accessToken, { resourceURL: domains.resource, timeoutMs, ...agents }),
    };
  }

  /**
   * A valid app token, for an endpoint this client does not wrap. Cached and single-flight like
   * the ones the statistics use. Never log it.
   */
  async getAppToken(): Promise<string> {
    return (await this.#tokens.get()).accessToken;
  }

  /** Releases the default in-memory cache. A `tokenCache` you passed is yours to close. */
  async close(): Promise<void> {
    await this.#ownCache?.close();
  }
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigurationError(`FractalClient \`${name}\` must be a positive number of milliseconds`);
  }
  return value;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ConfigurationError(`FractalClient \`${name}\` must be a number of milliseconds >= 0`);
  }
  return value;
}
