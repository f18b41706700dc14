import type { Request } from 'express';
import type { StrategyCreatedStatic } from 'passport';
import { ConfigurationError } from '../errors';
import { resolveProviderConfig, isLoopbackHost, type FractalDomains, type FractalEnvironment, type FractalProfile, type TokenClient, type TokenEndpointAuthMethod, type ProviderAgents } from '../provider';
import { DEFAULT_SCOPES, missingScopes, normalizeScopes, validateUserScopes } from '../provider';
import type { RedisCaller } from '../redis';
import { RedisConsumptionGuard } from './consumption-guard';
import type { FractalStateStore, SessionStateStoreOptions, StateMeta } from './session-store';
import type { FractalVerify, FractalVerifyWithRequest } from './verify';
import { validateWallet } from './wallet';
import { checkJourneyConfig, type JourneyOptions } from './journey-params';
import { checkPostOrigins, type EmbeddedCallbackOptions } from './form-post';

/** The strategy's options, what `passport.authenticate` takes per request, and their checks. */

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
  /** Timeout of each request to Fractal ID, in ms. Default 10 000 (the same for the vault and the client). */
  timeoutMs?: number;
  /** Agents for every call to Fractal ID (`{ http?, https? }`): egress proxy, private CA, socket timeouts. */
  agents?: ProviderAgents;
  /** Client authentication at the token endpoint. Default `client_secret_post` (provider docs). */
  authMethod?: TokenEndpointAuthMethod;
  /** @deprecated Use `authMethod` (the name the vault and the client use); read when `authMethod` is absent. */
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  /**
   * Shares the once-only claim of each callback across processes through Redis (`SET NX PX` on a
   * digest of the state), so concurrent deliveries of one callback make one code exchange even
   * behind a load balancer. Without it the claim is in-process. Default store only.
   */
  callbackGuard?: { client: RedisCaller; prefix?: string };
  /** Strategy name for `passport.authenticate(name)`. Default `fractal`. Pending state is namespaced by it. */
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

export interface ResolvedConfig {
  verify: AnyVerify;
  passReqToCallback: boolean;
  scopes: string[];
  requiredScopes: string[];
  allowUnknownScopes: boolean;
  callbackURL: string;
  stateStore: FractalStateStore;
  tokens: TokenClient;
  timeoutMs: number | undefined;
  agents: ProviderAgents | undefined;
  ensureWallet: FractalStrategyOptionsBase['ensureWallet'];
  returnTo: FractalStrategyOptionsBase['returnTo'];
  skipUserProfile: FractalStrategyOptionsBase['skipUserProfile'];
  /** Whether to send an S256 challenge (RFC 7636). */
  pkce: boolean;
  authorizationURL: string;
  clientID: string;
  /** Binds pending state to this strategy: its name and token endpoint (issue 14 item 7). */
  meta: StateMeta;
  journey: JourneyOptions;
  postOrigins: string[];
}

export type AnyVerify = FractalVerify<FractalProfile | undefined> | FractalVerifyWithRequest<FractalProfile | undefined>;
export type Actions = StrategyCreatedStatic;

export function storeOptions(options: FractalStrategyOptionsBase): SessionStateStoreOptions {
  const result: SessionStateStoreOptions = {};
  if (options.stateTTL !== undefined) result.ttlMs = options.stateTTL;
  if (options.maxPendingStates !== undefined) result.maxPending = options.maxPendingStates;
  if (options.callbackGuard !== undefined) {
    if (typeof options.callbackGuard?.client?.call !== 'function') {
      throw new ConfigurationError('callbackGuard needs { client }: the app\'s ioredis client (Redis or Cluster)');
    }
    result.guard = new RedisConsumptionGuard(options.callbackGuard);
  }
  return result;
}

/** Fails at construction, with a message saying what to fix, rather than at the first sign-in. */
export function checkOptions(options: FractalStrategyOptionsBase, verify: unknown) {
  if (typeof options !== 'object' || options === null) throw new ConfigurationError('FractalStrategy needs an options object');
  if (typeof verify !== 'function') throw new ConfigurationError('FractalStrategy needs a verify function as second argument');
  // Credentials, origins, timeout and token endpoint authentication: resolved as the vault and the client do.
  const provider = resolveProviderConfig(options, 'FractalStrategy');
  if (typeof options.callbackURL !== 'string') throw new ConfigurationError('FractalStrategy needs callbackURL, the redirect URI registered at Fractal ID');
  const callbackURL = checkCallbackURL(options.callbackURL);
  const { domains } = provider;
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
  return { callbackURL, domains, scopes, requiredScopes, journey, postOrigins, provider };
}

/** RFC 6749 section 3.1.2: absolute, no fragment; HTTPS except on loopback (provider docs). */
export function checkCallbackURL(value: string): string {
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
