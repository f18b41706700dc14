import type { Request } from 'express';
import OAuth2Strategy from 'passport-oauth2';
import { ConfigurationError, FractalError } from '../errors';
import type { StateError } from '../errors';
import { DEFAULT_SCOPES, missingScopes, normalizeScopes, validateUserScopes, tokenClientFor, type TokenClient, type FractalDomains, type FractalProfile } from '../provider';
import { authorizationLocation, createPkcePair } from './authorization-request';
import { handleCallback, loadProfile, type CallbackContext } from './callback';
import { callbackQueryOf, readCallbackParams, type CallbackQuery } from './callback-query';
import {
  checkCallbackURL,
  checkOptions,
  storeOptions,
  type Actions,
  type AnyVerify,
  type FractalAuthenticateOptions,
  type FractalStrategyOptions,
  type FractalStrategyOptionsWithRequest,
  type ResolvedConfig,
} from './options';
import { safeReturnTo } from './return-to';
import { observeSignIn } from '../diagnostics';
import { SessionStateStore, type PendingAuthorization } from './session-store';
import type { FractalVerify, FractalVerifyWithRequest } from './verify';
import { validateWallet } from './wallet';
import { journeyAuthorizationParams } from './journey-params';
import { isPostCallback, readPostCallback } from './form-post';

/** Longest `returnTo` kept with a pending sign-in (characters). */
export const MAX_PENDING_RETURN_TO = 256;

export type {
  FractalAuthInfo,
  FractalAuthenticateOptions,
  FractalStrategyOptions,
  FractalStrategyOptionsBase,
  FractalStrategyOptionsWithRequest,
} from './options';

/**
 * Passport strategy for Fractal ID. Registers as `fractal`.
 *
 * Both legs are ours: the authorization redirect (our state store and our own PKCE verifier from
 * `randomToken()`, the CSPRNG) and the callback (see `callback.ts`), so that every provider call has a
 * timeout, every failure is a typed error, granted scopes are checked, each callback is consumed
 * once, and the verify callback's signature is chosen by `passReqToCallback` rather than by
 * counting its parameters. passport-oauth2 remains the base class (`instanceof`, `userProfile`).
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
    const authorizationURL = `${checked.domains.frontend}/authorize`;
    const tokenURL = checked.provider.tokenURL;
    super(
      { authorizationURL, tokenURL, clientID: options.clientID, clientSecret: options.clientSecret, callbackURL: checked.callbackURL, passReqToCallback: true },
      // passport-oauth2 never calls this: both legs are ours (see authenticate).
      verify as unknown as OAuth2Strategy.VerifyFunctionWithRequest,
    );
    this.name = options.name ?? 'fractal';
    this.domains = checked.domains;
    this._config = {
      verify: verify as AnyVerify,
      passReqToCallback: options.passReqToCallback === true,
      scopes: checked.scopes,
      requiredScopes: checked.requiredScopes,
      allowUnknownScopes: options.allowUnknownScopes === true,
      callbackURL: checked.callbackURL,
      stateStore: store,
      tokens: tokenClientFor(checked.provider),
      timeoutMs: checked.provider.timeoutMs,
      agents: checked.provider.agents,
      ensureWallet: options.ensureWallet,
      returnTo: options.returnTo,
      skipUserProfile: options.skipUserProfile,
      // passport-oauth2's `pkce: true` meant S256 (RFC 7636 section 4.2); plain is never offered.
      pkce: options.pkce !== false,
      authorizationURL,
      clientID: options.clientID,
      meta: { strategy: this.name, tokenURL, callbackURL: checked.callbackURL },
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
    return this._config.stateStore instanceof SessionStateStore ? this._config.stateStore.pendingCount(req, this.name) : undefined;
  }

  override authenticate(req: Request, options: FractalAuthenticateOptions = {}): void {
    const actions = observeSignIn(this as unknown as Actions, this.name);
    // The embedded journey's POST of {code, state} (form-post.ts): origin and body first, then the same state rules.
    if (isPostCallback(req, options.callbackURL ?? this._config.callbackURL)) {
      readPostCallback(req, this._config.postOrigins).then(
        (params) => this._callbackFrom(req, actions, () => params),
        (err: unknown) => (err instanceof FractalError && err.status < 500 ? actions.fail(err, err.status) : actions.error(err)),
      );
      return;
    }
    const query = callbackQueryOf(req);
    if (query !== undefined) {
      this._callbackFrom(req, actions, () => readCallbackParams(query));
      return;
    }
    let pending: PendingAuthorization;
    let journey: Record<string, string>;
    try {
      const callbackURL = options.callbackURL !== undefined ? checkCallbackURL(options.callbackURL) : this._config.callbackURL;
      pending = this._pendingFor(req, options, callbackURL);
      journey = journeyAuthorizationParams(this._config.journey, options);
    } catch (err) {
      actions.error(err);
      return;
    }
    this._redirectToProvider(req, actions, pending, journey);
  }

  /** `ensure_wallet` and the journey's parameters of an authorization request (provider docs, step 1). */
  override authorizationParams(options: { ensureWallet?: unknown; journey?: Record<string, string> }): object {
    return { ...(typeof options.ensureWallet === 'string' ? { ensure_wallet: options.ensureWallet } : {}), ...options.journey };
  }

  override userProfile(accessToken: string, done: (err?: unknown, profile?: FractalProfile) => void): void {
    loadProfile(this._context(), accessToken).then(
      (profile) => done(null, profile),
      (err: unknown) => done(err),
    );
  }

  /**
   * The callback leg, with the authorization response read by `read` (the query string; a POST
   * body reader plugs in here). A response of the wrong shape fails with 400 `invalid_callback`.
   */
  protected _callbackFrom(req: Request, actions: Actions, read: () => CallbackQuery): void {
    let params: CallbackQuery;
    try {
      params = read();
    } catch (err) {
      actions.fail(err as StateError, (err as StateError).status);
      return;
    }
    handleCallback(this._context(), req, params, actions);
  }

  private _context(): CallbackContext {
    return { config: this._config, domains: this.domains };
  }

  private _redirectToProvider(req: Request, actions: Actions, pending: PendingAuthorization, journey: Record<string, string>): void {
    const pkce = this._config.pkce ? createPkcePair() : undefined;
    const redirectUri = pending.redirectUri ?? this._config.callbackURL;
    try {
      this._config.stateStore.store(req, pkce?.verifier, pending, this._config.meta, (err, state) => {
        if (err || state === undefined) return actions.error(err ?? new Error('The state store returned no state'));
        const request: Parameters<typeof authorizationLocation>[0] = {
          authorizationURL: this._config.authorizationURL,
          clientID: this._config.clientID,
          redirectUri,
          scopes: pending.scopes,
          state,
        };
        if (pkce !== undefined) request.codeChallenge = pkce.challenge;
        if (pending.ensureWallet !== undefined) request.ensureWallet = pending.ensureWallet;
        if (Object.keys(journey).length > 0) request.journey = journey;
        actions.redirect(authorizationLocation(request));
      });
    } catch (err) {
      actions.error(err);
    }
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
    // Longer ones are ignored like off-site ones: a visitor's pending sign-in must stay small (issue 14).
    if (returnTo !== undefined && returnTo.length <= MAX_PENDING_RETURN_TO) pending.returnTo = returnTo;
    if (options.appState !== undefined) pending.appState = options.appState;
    return pending;
  }
}
