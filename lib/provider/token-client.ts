import { isLoopbackHost } from './environments';
import { ErrorCode } from '../errors';
import { ConfigurationError } from '../errors';
import { ProviderError } from '../errors';
import { TokenError } from '../errors';
import { DEFAULT_TIMEOUT_MS, isRecord, providerRequest, type ProviderAgents } from './http';
import { normalizeScopes } from './scopes';

/** The token endpoint's JSON answer (provider docs; Doorkeeper's shape). Unknown fields pass through. */
export interface FractalTokenResponse {
  access_token: string;
  token_type: string;
  expires_in?: number;
  refresh_token?: string;
  scope?: string;
  /** Epoch seconds at the provider. */
  created_at?: number;
  [field: string]: unknown;
}

/** A validated token set, as stored by the token vault and handed to verify callbacks. */
export interface FractalTokenSet {
  accessToken: string;
  /** Absent for client-credentials tokens. Rotated on every refresh. */
  refreshToken?: string;
  tokenType: 'bearer';
  /**
   * Epoch milliseconds, on this machine's clock, after which the access token must not be used:
   * the time we sent the token request plus `expires_in`. Measured from before sending, so a slow
   * answer only makes it earlier; the provider's `created_at` is not used (see `#toTokenSet`), so
   * the provider's clock running ahead or behind ours changes nothing.
   */
  expiresAt: number;
  /** Granted scopes: the token response is the source of truth (provider docs, "Scope narrowing"). */
  scopes: string[];
}

export interface TokenResult {
  tokenSet: FractalTokenSet;
  /** The raw answer, for apps that want unknown fields. Contains the tokens: never log it. */
  response: FractalTokenResponse;
}

export interface TokenClientOptions {
  tokenURL: string;
  clientID: string;
  clientSecret: string;
  /**
   * How the client authenticates. Fractal ID documents credentials in the form body
   * (`client_secret_post`, the default); `client_secret_basic` is RFC 6749 section 2.3.1's other form.
   */
  authMethod?: 'client_secret_post' | 'client_secret_basic';
  /** Per-request timeout in milliseconds. Default 10 000. */
  timeoutMs?: number;
  /** Lifetime assumed when a response has no `expires_in`. Default 7200 s, the provider's documented value. */
  defaultExpiresIn?: number;
  /** Agents for the token endpoint calls (proxy, private CA). */
  agents?: ProviderAgents;
}

/**
 * Talks to `POST /oauth/token` for the three grants Fractal ID supports. Every call is bounded by
 * a timeout and validates the answer's shape (RFC 6749 section 5.1), so a broken or hostile answer
 * becomes a typed error instead of a half-initialised session.
 */
export class TokenClient {
  readonly #options: Required<Omit<TokenClientOptions, 'agents'>> & { agents?: ProviderAgents };

  constructor(options: TokenClientOptions) {
    checkTokenURL(options.tokenURL);
    this.#options = {
      authMethod: 'client_secret_post',
      timeoutMs: DEFAULT_TIMEOUT_MS,
      defaultExpiresIn: 7200,
      ...options,
    };
  }

  /** @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3 */
  exchangeCode(input: { code: string; redirectUri: string; codeVerifier?: string; requestedScopes: readonly string[] }): Promise<TokenResult> {
    const params: Record<string, string> = {
      grant_type: 'authorization_code',
      code: input.code,
      redirect_uri: input.redirectUri,
    };
    if (input.codeVerifier !== undefined) params.code_verifier = input.codeVerifier;
    return this.#request(params, input.requestedScopes);
  }

  /**
   * Every refresh rotates the refresh token: persist the returned set before using its access
   * token (provider docs, "Refresh with rotation").
   *
   * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
   */
  refresh(refreshToken: string, previousScopes: readonly string[]): Promise<TokenResult> {
    return this.#request({ grant_type: 'refresh_token', refresh_token: refreshToken }, previousScopes);
  }

  /** @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4 */
  clientCredentials(scopes: readonly string[]): Promise<TokenResult> {
    return this.#request({ grant_type: 'client_credentials', scope: scopes.join(' ') }, scopes);
  }

  async #request(params: Record<string, string>, fallbackScopes: readonly string[]): Promise<TokenResult> {
    const { clientID, clientSecret, authMethod, tokenURL, timeoutMs } = this.#options;
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    const body = new URLSearchParams(params);
    if (authMethod === 'client_secret_basic') {
      // RFC 6749 section 2.3.1: form-urlencode id and secret before base64.
      const user = encodeURIComponent(clientID);
      const pass = encodeURIComponent(clientSecret);
      headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    } else {
      body.set('client_id', clientID);
      body.set('client_secret', clientSecret);
    }
    // Our own clock before sending: a conservative start for the expiry computation.
    const sentAt = Date.now();
    const res = await providerRequest({ endpoint: 'token', url: tokenURL, method: 'POST', headers, body: body.toString(), timeoutMs, ...(this.#options.agents ? { agents: this.#options.agents } : {}) });

    if (res.status !== 200) {
      if (isRecord(res.json) && typeof res.json.error === 'string') {
        // A provider may echo what it received; never let our own credentials ride out in an error.
        const sent = [clientSecret, params.code, params.refresh_token, params.code_verifier].flatMap(wireForms);
        // base64(`id:secret`) as sent (each part form-encoded first) and as a provider may rebuild it raw.
        if (headers.authorization !== undefined) sent.push(...basicForms(headers.authorization), ...basicForms(`Basic ${Buffer.from(`${clientID}:${clientSecret}`).toString('base64')}`));
        throw new TokenError(res.json.error, redact(res.json.error_description, sent), res.json.error_uri, res.status);
      }
      const code = res.status >= 500 || res.status === 429 ? ErrorCode.PROVIDER_UNAVAILABLE : ErrorCode.INVALID_PROVIDER_RESPONSE;
      throw new ProviderError(code, 'token', `Fractal ID token endpoint answered ${res.status} without an OAuth error`, {
        providerStatus: res.status,
      });
    }
    return { tokenSet: this.#toTokenSet(res.json, sentAt, fallbackScopes), response: res.json as FractalTokenResponse };
  }

  #toTokenSet(json: unknown, sentAt: number, fallbackScopes: readonly string[]): FractalTokenSet {
    const invalid = (why: string) =>
      new ProviderError(ErrorCode.INVALID_PROVIDER_RESPONSE, 'token', `Fractal ID token response is invalid: ${why}`, { providerStatus: 200 });
    if (!isRecord(json)) throw invalid('not a JSON object');
    const { access_token, token_type, expires_in, refresh_token, scope, created_at } = json;
    if (typeof access_token !== 'string' || access_token.length === 0) throw invalid('access_token missing');
    // RFC 6749 section 7.1: we only know how to use bearer tokens (RFC 6750); the type is case-insensitive.
    if (typeof token_type !== 'string' || token_type.toLowerCase() !== 'bearer') throw invalid('token_type is not bearer');
    if (refresh_token !== undefined && refresh_token !== null && (typeof refresh_token !== 'string' || refresh_token.length === 0)) {
      throw invalid('refresh_token is not a string');
    }
    if (scope !== undefined && scope !== null && typeof scope !== 'string') throw invalid('scope is not a string');
    const lifetime = expires_in === undefined || expires_in === null ? this.#options.defaultExpiresIn : expires_in;
    if (typeof lifetime !== 'number' || !Number.isFinite(lifetime) || lifetime <= 0) throw invalid('expires_in is not a positive number');
    if (created_at !== undefined && created_at !== null && (typeof created_at !== 'number' || !Number.isFinite(created_at))) {
      throw invalid('created_at is not a number');
    }

    // RFC 6749 section 5.1: `expires_in` counts from the response. The provider enforces it on its own
    // clock from the moment it answered, which is after `sentAt`, so `sentAt + expires_in` is never
    // late whatever the two clocks say. `created_at` would add nothing but skew: it is the
    // provider's clock (a provider 3 h behind made every token look expired on arrival), and
    // Doorkeeper's `expires_in` is already what remains of a reused token (`expires_in_seconds`),
    // so `created_at + expires_in` would count that token's age twice.
    const tokenSet: FractalTokenSet = {
      accessToken: access_token,
      tokenType: 'bearer',
      expiresAt: sentAt + lifetime * 1000,
      // RFC 6749 section 5.1: scope may be omitted when identical to the requested one.
      scopes: typeof scope === 'string' ? normalizeScopes(scope) : [...fallbackScopes],
    };
    if (typeof refresh_token === 'string') tokenSet.refreshToken = refresh_token;
    return tokenSet;
  }
}

/** The token endpoint receives the client secret: HTTPS only, except on loopback (the sandbox). */
function checkTokenURL(value: unknown): void {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new ConfigurationError(`tokenURL must be an absolute URL such as https://auth.fractal.id/oauth/token, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new ConfigurationError('tokenURL must use https (plain http is allowed for loopback hosts only)');
  }
}

/**
 * A value as it may come back: raw, form-urlencoded as in our body (`+` for space, RFC 6749
 * appendix B) and percent-encoded as in the Basic credentials (RFC 6749 section 2.3.1).
 */
function wireForms(value: string | undefined): string[] {
  if (value === undefined) return [];
  return [...new Set([value, new URLSearchParams({ v: value }).toString().slice(2), encodeURIComponent(value)])];
}

/**
 * The base64 of `id:secret` we sent in `Authorization: Basic`, in the alphabets and paddings a
 * provider may echo. Without padding, so that a padded echo contains it too.
 */
function basicForms(authorization: string): string[] {
  const credentials = Buffer.from(authorization.replace(/^Basic /, ''), 'base64');
  return [credentials.toString('base64').replace(/=+$/, ''), credentials.toString('base64url')];
}

/** Replaces every occurrence of the given values (those long enough to be secrets) in provider text. */
function redact(text: unknown, values: readonly (string | undefined)[]): unknown {
  if (typeof text !== 'string') return text;
  let result = text;
  // Longest first: a shorter form inside a longer one must not leave the longer one half-redacted.
  for (const value of [...values].sort((a, b) => (b?.length ?? 0) - (a?.length ?? 0))) {
    if (value !== undefined && value.length >= 8) result = result.split(value).join('[redacted]');
  }
  return result;
}
