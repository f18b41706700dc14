import type { Request } from 'express';
import type { StrategyCreatedStatic } from 'passport';
import OAuth2Strategy from 'passport-oauth2';
import { readCallbackQuery, isCallbackRequest } from './callback-query';
import { resolveDomains, isLoopbackHost, type FractalDomains, type FractalEnvironment } from '../provider';
import { AuthorizationError } from '../errors';
import { ErrorCode } from '../errors';
import { ConfigurationError } from '../errors';
import { InsufficientScopeError } from '../errors';
import { StateError } from '../errors';
import { FractalError } from '../errors';
import { toFractalProfile, type FractalProfile } from '../provider';
import { safeReturnTo } from './return-to';
import { DEFAULT_SCOPES, diffScopes, missingScopes, normalizeScopes, validateUserScopes } from '../provider';
import { SessionStateStore, type FractalStateStore, type PendingAuthorization } from './session-store';
import { TokenClient } from '../provider';
import { fetchFractalUser } from '../provider';
import { runVerify, type FractalTokenParams, type FractalVerify, type FractalVerifyWithRequest } from './verify';
import { validateWallet } from './wallet';
import { checkJourneyConfig, journeyAuthorizationParams, type JourneyOptions } from './journey-params';
import { checkPostOrigins, isPostCallback, readPostCallback, type EmbeddedCallbackOptions } from './form-post';

/** `method`/`currency`: see journey-params.ts; `callbackPostOrigins`: see form-post.ts (embedded journey). */
export interface FractalStrategyOptionsBase extends JourneyOptions, EmbeddedCallbackOptions {
  clientID: string;
  clientSecret: string;
  /**
   * Absolute redirect URI, exactly as registered at Fractal ID. HTTPS, except on loopback hosts;
   * no fragment (RFC 6749 section 3.1.2).
   * @see https://www.rfc-editor.org/rfc/rfc6749#section-3.1.2
   */
  callbackURL: string;
  /** `production` (default) or `staging`; picks the three origins. */
  environment?: FractalEnvironment;
  /** Override any of the three origins (the local sandbox, tests). */
  domains?: Partial<FractalDomains>;
  /** Requested scopes, a space-separated string or an array. Default `uid:read`. See `kycScopes()`. */
  scope?: string | readonly string[];
  /**
   * Scopes the grant must include. When the user narrows the grant below them, sign-in fails with
   * `insufficient_scope` and no session is created. Must be a subset of `scope`.
   */
  requiredScopes?: string | readonly string[];
  /** Accept scopes missing from the documented catalogue. Default false (typos fail at start-up). */
  allowUnknownScopes?: boolean;
  /**
   * PKCE with S256 (RFC 7636). Default true. Turn it off only if your client registration rejects it.
   * @see https://www.rfc-editor.org/rfc/rfc9700#section-2.1.1
   */
  pkce?: boolean;
  /** Wallet address to ask the user to add (`ensure_wallet`), fixed or computed per request. */
  ensureWallet?: string | ((req: Request) => string | undefined);
  /** Where to return after sign-in when the request does not say; same-origin paths only. */
  returnTo?: string | ((req: Request) => string | undefined);
  /** Skip `GET /v2/users/me`; the verify callback then gets `undefined` as profile. */
  skipUserProfile?: boolean | ((accessToken: string) => boolean | Promise<boolean>);
  /** Where pending sign-ins are kept. Default: a {@link SessionStateStore} in `req.session`. */
  store?: FractalStateStore;
  /** Lifetime of a pending sign-in. Default 10 minutes (the lifetime of a Fractal ID code). */
  stateTTL?: number;
  /** Pending sign-ins kept per session (oldest evicted). Default 10. */
  maxPendingStates?: number;
  /** Timeout of each request to Fractal ID, in ms. Default 10 000. */
  timeoutMs?: number;
  /** Client authentication at the token endpoint. Default `client_secret_post` (provider docs). */
  tokenEndpointAuthMethod?: 'client_secret_post' | 'client_secret_basic';
  /** Strategy name for `passport.authenticate(name)`. Default `fractal`. */
  name?: string;
}

export interface FractalStrategyOptions extends FractalStrategyOptionsBase {
  passReqToCallback?: false;
}

export interface FractalStrategyOptionsWithRequest extends FractalStrategyOptionsBase {
  passReqToCallback: true;
}

/** Options of `passport.authenticate('fractal', options)` for one request. */
export interface FractalAuthenticateOptions extends JourneyOptions {
  /** Scopes for this request instead of the strategy's. */
  scope?: string | string[];
  /** `ensure_wallet` for this request. */
  ensureWallet?: string;
  /** Same-origin path to return to after sign-in; anything else is ignored. */
  returnTo?: string;
  /** The app's own JSON-safe data, kept with the pending sign-in and given back in `req.authInfo.fractal.appState`. */
  appState?: Record<string, unknown>;
  /** Redirect URI for this request instead of the strategy's. */
  callbackURL?: string;
  /** Managed by the strategy; a value here is refused (use `appState`). */
  state?: string;
}

declare module 'passport' {
  // Lets `passport.authenticate('fractal', { ensureWallet, returnTo, appState })` type-check.
  interface AuthenticateOptions {
    ensureWallet?: string;
    returnTo?: string;
    appState?: Record<string, unknown>;
    callbackURL?: string;
  }
}

/** Put in `req.authInfo.fractal` after a successful sign-in. */
export interface FractalAuthInfo {
  returnTo?: string;
  ensureWallet?: string;
  appState?: Record<string, unknown>;
  requestedScopes: string[];
  grantedScopes: string[];
  deniedScopes: string[];
  addedScopes: string[];
}

declare global {
  namespace Express {
    interface AuthInfo {
      fractal?: FractalAuthInfo;
    }
  }
}

interface ResolvedConfig {
  verify: AnyVerify;
  passReqToCallback: boolean;
  scopes: string[];
  requiredScopes: string[];
  allowUnknownScopes: boolean;
  callbackURL: string;
  stateStore: FractalStateStore;
  tokens: TokenClient;
  timeoutMs: number | undefined;
  ensureWallet: FractalStrategyOptionsBase['ensureWallet'];
  returnTo: FractalStrategyOptionsBase['returnTo'];
  skipUserProfile: FractalStrategyOptionsBase['skipUserProfile'];
  journey: JourneyOptions;
  postOrigins: string[];
}

type AnyVerify = FractalVerify<FractalProfile | undefined> | FractalVerifyWithRequest<FractalProfile | undefined>;
type Actions = StrategyCreatedStatic;

/**
 * Passport strategy for Fractal ID. Registers as `fractal`.
 *
 * The authorization redirect is built by passport-oauth2 (with our state store and PKCE); the
 * callback is handled here so that every provider call has a timeout, every failure is a typed
 * error, granted scopes are checked, and the verify callback's signature is chosen by
 * `passReqToCallback` rather than by counting its parameters.
 *
 * Outcomes at the callback: the user's own decisions and stale or forged callbacks
 * (`access_denied`, `insufficient_scope`, `invalid_state`, `invalid_callback`) call `fail` with the
 * typed error and a 4xx status; provider, network and configuration problems call `error`.
 */
export class FractalStrategy extends OAuth2Strategy {
  override name: string;
  /** The three origins in use. */
  readonly domains: FractalDomains;
  /** Resolved options. One property, so nothing collides with passport-oauth2's own `_` fields. */
  private readonly _config: ResolvedConfig;

  constructor(options: FractalStrategyOptions & { skipUserProfile?: false }, verify: FractalVerify);
  constructor(options: FractalStrategyOptionsWithRequest & { skipUserProfile?: false }, verify: FractalVerifyWithRequest);
  constructor(options: FractalStrategyOptions, verify: FractalVerify<FractalProfile | undefined>);
  constructor(options: FractalStrategyOptionsWithRequest, verify: FractalVerifyWithRequest<FractalProfile | undefined>);
  constructor(options: FractalStrategyOptions | FractalStrategyOptionsWithRequest, verify: (...args: never[]) => unknown) {
    const checked = checkOptions(options, verify);
    const store = options.store ?? new SessionStateStore(storeOptions(options));
    super(
      {
        authorizationURL: `${checked.domains.frontend}/authorize`,
        tokenURL: `${checked.domains.auth}/oauth/token`,
        clientID: options.clientID,
        clientSecret: options.clientSecret,
        callbackURL: checked.callbackURL,
        scope: checked.scopes,
        // passport-oauth2 calls a 5-parameter store with the verifier (undefined without PKCE).
        store: store as unknown as OAuth2Strategy.StateStore,
        // passport-oauth2 maps `true` to S256 (RFC 7636 section 4.2).
        pkce: options.pkce !== false,
        passReqToCallback: true,
      },
      // passport-oauth2 never calls this: the callback leg is ours (see authenticate).
      verify as unknown as OAuth2Strategy.VerifyFunctionWithRequest,
    );
    this.name = options.name ?? 'fractal';
    this.domains = checked.domains;
    const tokenOptions: ConstructorParameters<typeof TokenClient>[0] = {
      tokenURL: `${checked.domains.auth}/oauth/token`,
      clientID: options.clientID,
      clientSecret: options.clientSecret,
    };
    if (options.timeoutMs !== undefined) tokenOptions.timeoutMs = options.timeoutMs;
    if (options.tokenEndpointAuthMethod !== undefined) tokenOptions.authMethod = options.tokenEndpointAuthMethod;
    this._config = {
      verify: verify as AnyVerify,
      passReqToCallback: options.passReqToCallback === true,
      scopes: checked.scopes,
      requiredScopes: checked.requiredScopes,
      allowUnknownScopes: options.allowUnknownScopes === true,
      callbackURL: checked.callbackURL,
      stateStore: store,
      tokens: new TokenClient(tokenOptions),
      timeoutMs: options.timeoutMs,
      ensureWallet: options.ensureWallet,
      returnTo: options.returnTo,
      skipUserProfile: options.skipUserProfile,
      journey: checked.journey,
      postOrigins: checked.postOrigins,
    };
  }

  /** The token endpoint client this strategy uses; the token vault can share it. */
  get tokenClient(): TokenClient {
    return this._config.tokens;
  }

  /** Sign-ins started in this session and not finished yet (multi-tab), when the default store is used. */
  pendingSignIns(req: Request): number | undefined {
    return this._config.stateStore instanceof SessionStateStore ? this._config.stateStore.pendingCount(req) : undefined;
  }

  override authenticate(req: Request, options: FractalAuthenticateOptions = {}): void {
    const actions = this as unknown as Actions;
    // The embedded journey's POST of {code, state} (form-post.ts): origin and body first, then the same state rules.
    if (isPostCallback(req, options.callbackURL ?? this._config.callbackURL)) {
      readPostCallback(req, this._config.postOrigins).then(
        (query) => this._callback(req, actions, query),
        (err: unknown) => (err instanceof FractalError && err.status < 500 ? actions.fail(err, err.status) : actions.error(err)),
      );
      return;
    }
    if (isCallbackRequest(req)) {
      this._callback(req, actions);
      return;
    }
    let pending: PendingAuthorization;
    let callbackURL: string;
    let journey: Record<string, string>;
    try {
      callbackURL = options.callbackURL !== undefined ? checkCallbackURL(options.callbackURL) : this._config.callbackURL;
      pending = this._pendingFor(req, options, callbackURL);
      journey = journeyAuthorizationParams(this._config.journey, options);
    } catch (err) {
      actions.error(err);
      return;
    }
    // Hand passport-oauth2 a fresh object: never write into the caller's options.
    const forward: Record<string, unknown> = { scope: pending.scopes, callbackURL, state: pending };
    if (pending.ensureWallet !== undefined) forward.ensureWallet = pending.ensureWallet;
    forward.journey = journey;
    super.authenticate(req, forward);
  }

  /** Adds `ensure_wallet` to the authorization request (provider docs, step 1). */
  override authorizationParams(options: { ensureWallet?: unknown; journey?: Record<string, string> }): object {
    return { ...(typeof options.ensureWallet === 'string' ? { ensure_wallet: options.ensureWallet } : {}), ...options.journey };
  }

  override userProfile(accessToken: string, done: (err?: unknown, profile?: FractalProfile) => void): void {
    this._loadProfile(accessToken).then(
      (profile) => done(null, profile),
      (err: unknown) => done(err),
    );
  }

  private _pendingFor(req: Request, options: FractalAuthenticateOptions, redirectUri: string): PendingAuthorization {
    if (options.state !== undefined) {
      throw new ConfigurationError('FractalStrategy manages `state` itself; pass your data as `appState` instead');
    }
    let scopes = this._config.scopes;
    if (options.scope !== undefined) {
      scopes = normalizeScopes(options.scope);
      if (scopes.length === 0) scopes = [...DEFAULT_SCOPES];
      validateUserScopes(scopes, { allowUnknown: this._config.allowUnknownScopes });
      const unreachable = missingScopes(this._config.requiredScopes, scopes);
      if (unreachable.length > 0) {
        throw new ConfigurationError(`The requested scopes leave out required scopes: ${unreachable.join(' ')}`);
      }
    }
    const pending: PendingAuthorization = { redirectUri, scopes };
    const wallet = options.ensureWallet ?? (typeof this._config.ensureWallet === 'function' ? this._config.ensureWallet(req) : this._config.ensureWallet);
    if (wallet !== undefined && wallet !== '') pending.ensureWallet = validateWallet(wallet);
    const returnTo = safeReturnTo(options.returnTo ?? (typeof this._config.returnTo === 'function' ? this._config.returnTo(req) : this._config.returnTo));
    if (returnTo !== undefined) pending.returnTo = returnTo;
    if (options.appState !== undefined) pending.appState = options.appState;
    return pending;
  }

  private _callback(req: Request, actions: Actions, posted?: ReturnType<typeof readCallbackQuery>): void {
    let query: ReturnType<typeof readCallbackQuery>;
    try {
      query = posted ?? readCallbackQuery(req);
    } catch (err) {
      actions.fail(err as StateError, (err as StateError).status);
      return;
    }
    if (query.state === undefined) {
      actions.fail(new StateError('The callback has no state parameter'), 403);
      return;
    }
    try {
      this._config.stateStore.verify(req, query.state, {}, (err, ok, info) => {
        if (err) return actions.error(err);
        if (!ok || info === undefined || info instanceof StateError) {
          const failure = info instanceof StateError ? info : new StateError('Invalid sign-in state; start the sign-in again');
          return actions.fail(failure, failure.status);
        }
        // The state matched: an error response is genuine (RFC 6749 section 4.1.2.1).
        if (query.error !== undefined) {
          const error = new AuthorizationError(query.error, query.error_description, query.error_uri);
          return error.code === ErrorCode.ACCESS_DENIED ? actions.fail(error, error.status) : actions.error(error);
        }
        const verifier = typeof ok === 'string' ? ok : undefined;
        this._complete(req, actions, query.code as string, verifier, info).catch((e: unknown) => actions.error(e));
      });
    } catch (err) {
      actions.error(err);
    }
  }

  private async _complete(req: Request, actions: Actions, code: string, verifier: string | undefined, pending: PendingAuthorization): Promise<void> {
    const exchange: Parameters<TokenClient['exchangeCode']>[0] = {
      code,
      redirectUri: pending.redirectUri ?? this._config.callbackURL,
      requestedScopes: pending.scopes,
    };
    if (verifier !== undefined) exchange.codeVerifier = verifier;
    const { tokenSet, response } = await this._config.tokens.exchangeCode(exchange);

    const granted = tokenSet.scopes;
    const missing = missingScopes(this._config.requiredScopes, granted);
    if (missing.length > 0) {
      actions.fail(new InsufficientScopeError(missing, granted), 403);
      return;
    }
    const profile = (await this._shouldSkipProfile(tokenSet.accessToken)) ? undefined : await this._loadProfile(tokenSet.accessToken);
    const diff = diffScopes(pending.scopes, granted);
    const params: FractalTokenParams = {
      ...response,
      tokenSet,
      requestedScopes: [...pending.scopes],
      grantedScopes: [...granted],
      deniedScopes: diff.denied,
      addedScopes: diff.added,
    };
    const fractal: FractalAuthInfo = {
      requestedScopes: params.requestedScopes,
      grantedScopes: params.grantedScopes,
      deniedScopes: params.deniedScopes,
      addedScopes: params.addedScopes,
    };
    if (pending.returnTo !== undefined) fractal.returnTo = pending.returnTo;
    if (pending.ensureWallet !== undefined) fractal.ensureWallet = pending.ensureWallet;
    if (pending.appState !== undefined) fractal.appState = pending.appState;

    runVerify(
      (done) =>
        this._config.passReqToCallback
          ? (this._config.verify as FractalVerifyWithRequest<FractalProfile | undefined>)(req, tokenSet.accessToken, tokenSet.refreshToken, params, profile, done)
          : (this._config.verify as FractalVerify<FractalProfile | undefined>)(tokenSet.accessToken, tokenSet.refreshToken, params, profile, done),
      (err, user, info) => {
        if (err) return actions.error(err);
        if (!user) return actions.fail(info as { message?: string } | undefined);
        if (this._config.stateStore instanceof SessionStateStore) this._config.stateStore.carryAcrossRegeneration(req);
        actions.success(user, { ...info, fractal });
      },
    );
  }

  private async _shouldSkipProfile(accessToken: string): Promise<boolean> {
    const skip = this._config.skipUserProfile;
    return typeof skip === 'function' ? Boolean(await skip(accessToken)) : skip === true;
  }

  private async _loadProfile(accessToken: string): Promise<FractalProfile> {
    const options: Parameters<typeof fetchFractalUser>[1] = { resourceURL: this.domains.resource };
    if (this._config.timeoutMs !== undefined) options.timeoutMs = this._config.timeoutMs;
    return toFractalProfile(await fetchFractalUser(accessToken, options));
  }
}

function storeOptions(options: FractalStrategyOptionsBase): ConstructorParameters<typeof SessionStateStore>[0] {
  const result: NonNullable<ConstructorParameters<typeof SessionStateStore>[0]> = {};
  if (options.stateTTL !== undefined) result.ttlMs = options.stateTTL;
  if (options.maxPendingStates !== undefined) result.maxPending = options.maxPendingStates;
  return result;
}

/** Fails at construction, with a message saying what to fix, rather than at the first sign-in. */
function checkOptions(options: FractalStrategyOptionsBase, verify: unknown) {
  if (typeof options !== 'object' || options === null) throw new ConfigurationError('FractalStrategy needs an options object');
  if (typeof verify !== 'function') throw new ConfigurationError('FractalStrategy needs a verify function as second argument');
  if (typeof options.clientID !== 'string' || options.clientID.length === 0) {
    throw new ConfigurationError('FractalStrategy needs clientID (from your Fractal ID developer dashboard)');
  }
  if (typeof options.clientSecret !== 'string' || options.clientSecret.length === 0) {
    throw new ConfigurationError('FractalStrategy needs clientSecret (from your Fractal ID developer dashboard)');
  }
  if (typeof options.callbackURL !== 'string') throw new ConfigurationError('FractalStrategy needs callbackURL, the redirect URI registered at Fractal ID');
  const callbackURL = checkCallbackURL(options.callbackURL);
  const domains = resolveDomains({
    ...(options.environment !== undefined ? { environment: options.environment } : {}),
    ...(options.domains !== undefined ? { domains: options.domains } : {}),
  });
  let scopes = normalizeScopes(options.scope);
  if (scopes.length === 0) scopes = [...DEFAULT_SCOPES];
  validateUserScopes(scopes, { allowUnknown: options.allowUnknownScopes === true });
  const requiredScopes = normalizeScopes(options.requiredScopes);
  const unrequested = missingScopes(requiredScopes, scopes);
  if (unrequested.length > 0) {
    throw new ConfigurationError(`requiredScopes must also be requested in scope; missing from scope: ${unrequested.join(' ')}`);
  }
  if (typeof options.ensureWallet === 'string') {
    try {
      validateWallet(options.ensureWallet);
    } catch (err) {
      throw new ConfigurationError(`ensureWallet: ${(err as Error).message}`);
    }
  }
  const journey = checkJourneyConfig(options);
  const postOrigins = checkPostOrigins(options.callbackPostOrigins, callbackURL);
  return { callbackURL, domains, scopes, requiredScopes, journey, postOrigins };
}

/** RFC 6749 section 3.1.2: absolute, no fragment; HTTPS except on loopback (provider docs). */
function checkCallbackURL(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigurationError(`callbackURL must be an absolute URL such as https://app.example.com/auth/fractal/callback, got ${JSON.stringify(value)}`);
  }
  if (url.hash || value.includes('#')) throw new ConfigurationError('callbackURL must not contain a fragment (RFC 6749 section 3.1.2)');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new ConfigurationError('callbackURL must use https; plain http is allowed only for localhost and 127.0.0.1');
  }
  if (url.username || url.password) throw new ConfigurationError('callbackURL must not contain credentials');
  // Sent byte for byte as registered: return the caller's string, not a re-serialised URL.
  return value;
}
