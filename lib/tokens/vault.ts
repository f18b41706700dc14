import type { Request, RequestHandler } from 'express';
import { ConfigurationError } from '../errors';
import { lockTtlFor, resolveProviderConfig, tokenClientFor, type FractalDomains, type FractalEnvironment, type RetryOptions, type TokenEndpointAuthMethod, type ProviderAgents } from '../provider';
import type { FractalTokenSet } from '../provider';
import { fetchFractalUser, type FractalUser } from '../provider';
import { guard, requireFractal, type GuardDecider, type RequireOptions } from './guard';
import { createKeyring, type EncryptionKey, type Keyring } from './keyring';
import { createRequestContext, defaultUserId, fractalMiddleware, type ContextSource, type UserIdResolver } from './middleware';
import { Refresher, type RefresherHooks } from './refresher';
import type { TokenStore } from './store';
import type { VaultCheckResult, VaultCheckWarning } from './check';
import type { FractalRequestContext } from './types';

export interface FractalVaultOptions {
  /** Where token records live: `RedisTokenStore` for several processes, `MemoryTokenStore` for one. */
  store: TokenStore;
  /**
   * AES-256-GCM keys (32 bytes: Buffer, 64 hex digits or base64). The first encrypts, all decrypt.
   * **Security:** keep them out of the code and out of Redis; rotate by adding the new key second
   * everywhere, then moving it first.
   */
  encryptionKeys: EncryptionKey | readonly EncryptionKey[];
  clientID: string;
  clientSecret: string;
  /** Default `production`. */
  environment?: FractalEnvironment;
  /** Override origins (the local sandbox). */
  domains?: Partial<FractalDomains>;
  /** Token endpoint; default `<auth origin>/oauth/token`. */
  tokenURL?: string;
  /** Client authentication at the token endpoint. Default `client_secret_post` (what Fractal ID documents). */
  authMethod?: TokenEndpointAuthMethod;
  /** @deprecated The strategy's old name of `authMethod`, accepted here too. */
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  /** Refresh when the access token expires within this many ms. Default 60 000. */
  refreshSkewMs?: number;
  /**
   * How long a user's record is kept after its last write: the refresh token's usable lifetime.
   * The provider does not document it; default 30 days.
   */
  recordTtlMs?: number;
  /** Per-request timeout at the provider. Default 10 000 ms (the same for the strategy and the client). */
  timeoutMs?: number;
  /** Agents for every call to Fractal ID (`{ http?, https? }`): egress proxy, private CA, socket timeouts. */
  agents?: ProviderAgents;
  /** Retries of transient token endpoint failures (5xx, 429, timeouts). Default 3 attempts, 250 ms..2 s jittered backoff. */
  retry?: RetryOptions;
  /**
   * After a refresh failed (once its retries are spent; a revoked grant is not a failure but a
   * sign-out), nobody asks the token endpoint for that user again for `baseMs`, doubling with each
   * further failure up to `maxMs`. Shared by every process through the store. Meanwhile callers
   * get the current access token while it has not expired, then `refresh_throttled` (503 with
   * `Retry-After`). `false` turns it off. Default `{ baseMs: 1000, maxMs: 60000 }`.
   */
  refreshBackoff?: { baseMs?: number; maxMs?: number } | false;
  /**
   * Lifetime of the per-user refresh lock. A holder that stalls longer is fenced off (its write is
   * refused). Default: enough for every retry to time out, plus 5 s.
   */
  lockTtlMs?: number;
  /** How long a request waits for another process's refresh. Default `lockTtlMs` + 5 s. */
  waitTimeoutMs?: number;
  /** The signed-in user's id; default `req.user.id` when it is a string. Use the id you pass to `saveTokens`. */
  userId?: UserIdResolver;
  /** Where the guard sends browsers to sign in. Default `/auth/fractal`. */
  signInPath?: string;
  /** Realm of `WWW-Authenticate` challenges. Default `fractal`. */
  realm?: string;
  /**
   * Records are bound (AES-GCM associated data) to the client ID, the encryption key id, the user
   * id and a format version. Records of format 1 (before this binding; bound to the user id only)
   * are read once and rewritten in the current format (`migrate`, the default). Set `refuse` once
   * every record was rewritten or expired (`recordTtlMs` after upgrading): then a format-1 record
   * copied from another app no longer opens either.
   */
  legacyRecords?: 'migrate' | 'refuse';
  /** @internal Test seams. */
  hooks?: RefresherHooks;
}

export interface FractalVault {
  /** Puts a lazy `req.fractal` ({@link FractalRequestContext}) on every request. */
  middleware(): RequestHandler;
  /** A guard: valid token (refreshed if needed) and scopes, or redirect / 401 / 403 / 503. */
  require(options?: RequireOptions): RequestHandler;
  /**
   * A guard of your own: `decide` (see {@link GuardDecider}) says allow, sign in, refuse or pass
   * on, and the vault's responder answers as `require()` does (redirect or 401, JSON or text,
   * `WWW-Authenticate`, `Retry-After`).
   */
  guard(decide: GuardDecider): RequestHandler;
  /** Stores a token set from a sign-in, e.g. `await vault.saveTokens(profile.id, params.tokenSet)` in verify. */
  saveTokens(userId: string, tokenSet: FractalTokenSet): Promise<void>;
  /** A valid access token for a user, e.g. in a background job. Same rules as `req.fractal.getAccessToken()`. */
  getAccessToken(userId: string): Promise<string>;
  /** The stored token set without refreshing it (possibly expired), or `null`. Rejects with `reauthentication_required` when it does not decrypt. */
  getTokenSet(userId: string): Promise<FractalTokenSet | null>;
  /** `GET /v2/users/me` for a user, refreshing once on a 401. */
  fetchUser(userId: string): Promise<FractalUser>;
  /**
   * Forgets a user's tokens in this app. Fractal ID documents no revocation endpoint: the grant
   * itself ends when the user removes the app at Fractal ID.
   */
  revoke(userId: string): Promise<void>;
  /** `revoke()` for the request's user, then Passport's `req.logout()` and `req.session.destroy()` when present. */
  logout(req: Request): Promise<void>;
  /** The request's context (creates one when the middleware is not mounted). */
  context(req: Request): FractalRequestContext;
  /**
   * Checks what could lose stored grants: for `RedisTokenStore`, Redis's `maxmemory-policy`
   * (anything but `noeviction` may evict token records, which all have a TTL) and persistence
   * (`appendonly`, `save`). Never rejects: a refused `CONFIG GET` or an unreachable store is a
   * warning. Run it at start-up and log the warnings.
   */
  check(): Promise<VaultCheckResult>;
  /** The keyring in use (key ids, for operations). */
  readonly keyring: Keyring;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The token vault: encrypted storage, single-flight refresh across processes, Express middleware
 * and guard. See the README section "Multi-process deployments".
 */
export function createFractalVault(options: FractalVaultOptions): FractalVault {
  if (!options || typeof options.store?.get !== 'function') throw new ConfigurationError('createFractalVault needs `store`: a RedisTokenStore or MemoryTokenStore');
  const provider = resolveProviderConfig(options, 'createFractalVault');
  const realm = options.realm ?? 'fractal';
  if (!/^[\x20\x21\x23-\x5b\x5d-\x7e]*$/.test(realm)) throw new ConfigurationError('`realm` must be printable ASCII without quotes or backslashes');
  if (options.legacyRecords !== undefined && options.legacyRecords !== 'migrate' && options.legacyRecords !== 'refuse') {
    throw new ConfigurationError('`legacyRecords` must be `migrate` or `refuse`');
  }
  const signInPath = options.signInPath ?? '/auth/fractal';
  if (!signInPath.startsWith('/') || signInPath.startsWith('//')) throw new ConfigurationError('`signInPath` must be a path on this site, such as /auth/fractal');

  const { domains, timeoutMs, retry } = provider;
  const keyring = createKeyring(options.encryptionKeys);
  const lockTtlMs = options.lockTtlMs ?? lockTtlFor(timeoutMs, retry);
  const tokenClient = tokenClientFor(provider);
  const refresher = new Refresher({
    store: options.store,
    keyring,
    clientID: options.clientID,
    legacyRecords: options.legacyRecords ?? 'migrate',
    tokenClient,
    refreshSkewMs: options.refreshSkewMs ?? 60_000,
    recordTtlMs: options.recordTtlMs ?? 30 * DAY_MS,
    lockTtlMs,
    waitTimeoutMs: options.waitTimeoutMs ?? lockTtlMs + 5000,
    retry,
    backoff: resolveBackoff(options.refreshBackoff),
    ...(options.hooks ? { hooks: options.hooks } : {}),
  });
  const resolveUserId = options.userId ?? defaultUserId;

  const source: ContextSource = {
    getTokenSet: (userId, rejected) => refresher.getTokenSet(userId, rejected),
    peekTokenSet: (userId) => refresher.peekFresh(userId),
    readScopes: async (userId) => {
      // Scopes never change on refresh, so a cached copy is as good as the stored one.
      const record = await refresher.read(userId, true);
      return record ? record.tokenSet.scopes : [];
    },
    fetchUser: (accessToken) => fetchFractalUser(accessToken, { resourceURL: domains.resource, timeoutMs, ...(provider.agents ? { agents: provider.agents } : {}) }),
  };
  const context = (req: Request): FractalRequestContext => (req.fractal ??= createRequestContext(source, () => resolveUserId(req)));

  const vault: FractalVault = {
    keyring,
    middleware: () => fractalMiddleware(source, resolveUserId),
    require: (requireOptions) => requireFractal({ signInPath, realm, context }, requireOptions),
    guard: (decide) => guard({ signInPath, realm, context }, decide),
    saveTokens: (userId, tokenSet) => refresher.save(checkUserId(userId), tokenSet),
    getAccessToken: async (userId) => (await refresher.getTokenSet(checkUserId(userId))).accessToken,
    getTokenSet: async (userId) => (await refresher.read(checkUserId(userId)))?.tokenSet ?? null,
    fetchUser: (userId) => {
      checkUserId(userId);
      return createRequestContext(source, () => userId).fetchUser();
    },
    revoke: async (userId) => {
      await options.store.delete(checkUserId(userId));
    },
    logout: async (req) => {
      const userId = resolveUserId(req);
      if (userId !== undefined) await vault.revoke(userId);
      await endSession(req);
    },
    context,
    check: async () => {
      const store = options.store;
      let warnings: VaultCheckWarning[];
      if (typeof store.checkSettings !== 'function') {
        warnings = [{ code: 'store_not_checked', message: 'The token store has no checkSettings(): eviction and persistence were not checked.' }];
      } else {
        warnings = await store.checkSettings().catch(() => [{ code: 'store_unavailable' as const, message: 'The token store did not answer; its settings were not checked.' }]);
      }
      return { ok: warnings.length === 0, warnings };
    },
  };
  return vault;
}

function resolveBackoff(option: FractalVaultOptions['refreshBackoff']): { baseMs: number; maxMs: number } | null {
  if (option === false) return null;
  const baseMs = option?.baseMs ?? 1000;
  const maxMs = option?.maxMs ?? 60_000;
  if (!Number.isFinite(baseMs) || !Number.isFinite(maxMs) || baseMs < 1 || maxMs < baseMs) {
    throw new ConfigurationError('`refreshBackoff` needs 1 <= baseMs <= maxMs (milliseconds), or false');
  }
  return { baseMs, maxMs };
}

function checkUserId(userId: string): string {
  if (typeof userId !== 'string' || userId.length === 0) throw new ConfigurationError('userId must be a non-empty string (e.g. profile.id)');
  return userId;
}

type Callback = (err?: unknown) => void;

async function endSession(req: Request): Promise<void> {
  const r = req as Request & { logout?: (cb: Callback) => void; session?: { destroy?: (cb: Callback) => void } };
  if (typeof r.logout === 'function') await callbackToPromise((cb) => r.logout?.(cb));
  const session = r.session;
  if (session && typeof session.destroy === 'function') await callbackToPromise((cb) => session.destroy?.(cb));
}

function callbackToPromise(run: (cb: Callback) => void): Promise<void> {
  return new Promise((resolve, reject) => run((err) => (err ? reject(err) : resolve())));
}
