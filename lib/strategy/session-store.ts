import { hash as cryptoHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { ConfigurationError, StateError, StoreUnavailableError } from '../errors';
import { randomToken } from './random-token';
import { MemoryConsumptionGuard, type ConsumptionGuard } from './consumption-guard';
import { limitAnonymousCookie, restoreCookieAfterRegeneration, sessionOf, type SessionLike } from './session-lifetime';

/** What the strategy keeps with each pending authorization request. JSON-safe: it lives in the session. */
export interface PendingAuthorization {
  /** The redirect_uri sent at /authorize; the token request must repeat it exactly (RFC 6749 section 4.1.3). */
  redirectUri?: string;
  /** Scopes requested, to detect narrowing against the granted ones. */
  scopes: string[];
  /** Same-origin relative path to return to after sign-in. */
  returnTo?: string;
  /** Wallet address sent as `ensure_wallet`. */
  ensureWallet?: string;
  /** The app's own data, given back at the callback. */
  appState?: Record<string, unknown>;
}

/** Which strategy a pending sign-in belongs to; the strategy passes it to `store` and `verify`. */
export interface StateMeta {
  /** The strategy's name: pending state is namespaced by it. */
  strategy: string;
  /** The token endpoint the code will be sent to; an entry is valid only for the same one. */
  tokenURL: string;
  /** The strategy's redirect URI: an entry with this one leaves it out (compact entries). */
  callbackURL?: string;
}

interface StoredEntry {
  /** SHA-256 of the state value: the session never holds a reusable state. */
  h: string;
  /** PKCE code_verifier (RFC 7636), absent when PKCE is off. */
  v?: string;
  /** Expiry, epoch ms. */
  e: number;
  /** Token endpoint of the issuing strategy (issue 14 item 7: a state binds its provider). */
  t: string;
  d: PendingAuthorization;
}

/** A state this session already completed: its digest, expiry and where the sign-in returned to. */
interface UsedEntry {
  h: string;
  e: number;
  r?: string;
}

export type StoreCallback = (err: Error | null, state?: string) => void;
export type VerifyCallback = (err: Error | null, ok?: string | boolean, info?: PendingAuthorization | StateError) => void;

/**
 * The state store interface the strategy calls (`store` with the PKCE verifier, `verify` with the
 * state from the callback). A custom store must keep this shape.
 */
export interface FractalStateStore {
  store(req: Request, verifier: string | undefined, state: PendingAuthorization, meta: StateMeta, callback: StoreCallback): void;
  verify(req: Request, providedState: string, meta: StateMeta, callback: VerifyCallback): void;
}

export interface SessionStateStoreOptions {
  /** Prefix of the session properties holding pending requests (one per strategy name). Default `fractal:pending`. */
  key?: string;
  /** How long a pending request stays valid. Default 10 minutes, the lifetime of a Fractal ID code. */
  ttlMs?: number;
  /** Pending requests kept per session and strategy; the oldest is evicted beyond it. Default 10. */
  maxPending?: number;
  /** Claims each state once across concurrent requests. Default: in-process ({@link MemoryConsumptionGuard}). */
  guard?: ConsumptionGuard;
}

/** The callback presented a state this session already completed (the back button). */
export class UsedStateError extends StateError {
  constructor(readonly returnTo: string | undefined) {
    super('This sign-in was already completed');
  }
}

const MAX_STATE_LENGTH = 512;

/**
 * Keeps pending authorization requests in `req.session`, keyed by their `state` value, so a user
 * with several tabs can finish each sign-in. Each entry is single-use: a {@link ConsumptionGuard}
 * claims it before the session is touched, so of concurrent deliveries of one callback exactly one
 * reaches the token endpoint and the others leave the session as they found it.
 *
 * A visitor who is not signed in gets a session cookie that lives as long as the state (issue 14:
 * pre-login state must not cost a day of server storage); login regenerates the session with the
 * app's own cookie settings.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-10.12 (CSRF and `state`)
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-2.1
 */
export class SessionStateStore implements FractalStateStore {
  readonly key: string;
  readonly #ttlMs: number;
  readonly #maxPending: number;
  readonly #guard: ConsumptionGuard;
  readonly #propertyNames = new Map<string, { pending: string; used: string }>();

  constructor(options: SessionStateStoreOptions = {}) {
    this.key = options.key ?? 'fractal:pending';
    this.#ttlMs = options.ttlMs ?? 10 * 60 * 1000;
    this.#maxPending = options.maxPending ?? 10;
    this.#guard = options.guard ?? new MemoryConsumptionGuard();
    if (!(this.#ttlMs > 0)) throw new ConfigurationError('stateTTL must be a positive number of milliseconds');
    if (!Number.isInteger(this.#maxPending) || this.#maxPending < 1) throw new ConfigurationError('maxPendingStates must be a positive integer');
  }

  store(req: Request, verifier: string | undefined, state: PendingAuthorization, meta: StateMeta, callback: StoreCallback): void {
    const session = sessionOf(req);
    if (!session) {
      callback(missingSession());
      return;
    }
    const handle = randomToken();
    const now = Date.now();
    const property = this.#names(meta.strategy).pending;
    const entries = live<StoredEntry>(session[property], now);
    // Without `delete`: it turns the entry into a dictionary-mode object, which every JSON.stringify
    // of the session (express-session hashes it several times per request) then pays for.
    const { redirectUri, ...compact } = state;
    const data: PendingAuthorization = redirectUri !== undefined && redirectUri !== meta.callbackURL ? { ...state } : compact;
    const entry: StoredEntry = { h: digest(handle), e: now + this.#ttlMs, t: meta.tokenURL, d: data };
    if (verifier !== undefined) entry.v = verifier;
    entries.push(entry);
    // Bounded so a script hammering /auth/fractal cannot grow the session without limit.
    while (entries.length > this.#maxPending) entries.shift();
    session[property] = entries;
    limitAnonymousCookie(req, session, this.#ttlMs);
    // Saved before the redirect, not at the end of the response: express-session's own save on
    // `res.end` still sends the 302 when the store fails, and the browser then comes back with a
    // state nobody kept (`invalid_state` after a Redis blip; found by `npm run soak`).
    if (typeof session.save !== 'function') {
      callback(null, handle);
      return;
    }
    session.save((err) => {
      if (err) callback(new StoreUnavailableError('Could not save the pending sign-in: the session store failed', err));
      else callback(null, handle);
    });
  }

  verify(req: Request, providedState: string, meta: StateMeta, callback: VerifyCallback): void {
    const session = sessionOf(req);
    if (!session) {
      callback(missingSession());
      return;
    }
    if (typeof providedState !== 'string' || providedState.length === 0 || providedState.length > MAX_STATE_LENGTH) {
      callback(null, false, new StateError('The callback has no valid state parameter'));
      return;
    }
    const { pending: property, used: usedProperty } = this.#names(meta.strategy);
    const hash = digest(providedState);
    const now = Date.now();
    // Compare every entry in constant time; do not stop early on a match.
    const match = findEntry<StoredEntry>(session[property], hash, (entry) => entry.t === meta.tokenURL && typeof entry.d === 'object' && entry.d !== null);
    if (!match) {
      const used = findEntry<UsedEntry>(session[usedProperty], hash, (entry) => entry.e > now);
      callback(null, false, used ? new UsedStateError(used.r) : new StateError('Unknown or already used sign-in state; start the sign-in again'));
      return;
    }
    if (match.e <= now) {
      this.#remove(session, property, match, now);
      callback(null, false, new StateError('The sign-in took too long and its state expired; start the sign-in again'));
      return;
    }
    // Claim first: a request that loses leaves the session untouched, so it cannot save (and send
    // back the cookie of) the pre-login session that the winner's login is replacing.
    this.#guard.claim(`${meta.strategy}:${hash}`, match.e - now).then(
      (won) => {
        if (!won) {
          callback(null, false, new StateError('This sign-in is already being completed by another request'));
          return;
        }
        this.#remove(session, property, match, Date.now());
        const used = live<UsedEntry>(session[usedProperty], Date.now());
        const record: UsedEntry = { h: match.h, e: match.e };
        if (match.d.returnTo !== undefined) record.r = match.d.returnTo;
        used.push(record);
        while (used.length > this.#maxPending) used.shift();
        session[usedProperty] = used;
        // The default first, then the spread: adding a property after a spread is V8's slow path.
        const data: PendingAuthorization = meta.callbackURL === undefined ? { ...match.d } : { redirectUri: meta.callbackURL, ...match.d };
        if (data.redirectUri === undefined && meta.callbackURL !== undefined) data.redirectUri = meta.callbackURL;
        callback(null, match.v ?? true, data);
      },
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
    );
  }

  /**
   * passport 0.6+ regenerates the session at login, dropping everything in it unless the app
   * passes `keepSessionInfo: true`. Other tabs' pending sign-ins (of every strategy) and the
   * record of completed ones must survive that, so this wraps the session's `regenerate` for the
   * current request to carry our properties (and nothing else) into the new session, which also
   * gets the app's own cookie lifetime back. The session id still changes (against fixation).
   */
  carryAcrossRegeneration(req: Request): void {
    const session = sessionOf(req);
    if (!session || typeof session.regenerate !== 'function') return;
    const prefix = `${this.key}:`;
    const original = session.regenerate;
    const wrapped = function (this: unknown, done: (err?: unknown) => void) {
      // Names, not Object.entries: no [name, value] pair for every property of the session.
      const carried: string[] = [];
      for (const name of Object.keys(session)) if (name.startsWith(prefix)) carried.push(name);
      return original.call(this, (err?: unknown) => {
        const fresh = sessionOf(req);
        if (!err && fresh) {
          for (const name of carried) if (fresh[name] === undefined) fresh[name] = session[name];
          restoreCookieAfterRegeneration(session, fresh);
        }
        done(err);
      });
    };
    // Own, non-enumerable property: never serialised into the session store.
    Object.defineProperty(session, 'regenerate', { value: wrapped, configurable: true, writable: true, enumerable: false });
  }

  /** Number of pending sign-ins of strategy `strategy` in this session (expired ones excluded). */
  pendingCount(req: Request, strategy = 'fractal'): number {
    const session = sessionOf(req);
    return session ? live<StoredEntry>(session[this.#names(strategy).pending], Date.now()).length : 0;
  }

  /**
   * The session properties of a strategy's pending and completed sign-ins. Built once per strategy
   * name: a key made afresh by a template on every request has to be flattened and internalised
   * before each session read and write (~1 µs per callback).
   */
  #names(strategy: string): { pending: string; used: string } {
    let names = this.#propertyNames.get(strategy);
    if (names === undefined) {
      const pending = `${this.key}:${strategy}`;
      names = { pending, used: `${pending}:used` };
      // Strategy names come from the app's code, not from requests; bounded all the same.
      if (this.#propertyNames.size < 64) this.#propertyNames.set(strategy, names);
    }
    return names;
  }

  #remove(session: SessionLike, property: string, match: StoredEntry, now: number): void {
    const rest = live<StoredEntry>(session[property], now).filter((entry) => entry !== match && entry.h !== match.h);
    if (rest.length > 0) session[property] = rest;
    else delete session[property];
  }
}

function missingSession(): ConfigurationError {
  return new ConfigurationError(
    'FractalStrategy keeps sign-in state in the session: add express-session (app.use(session(...))) before passport.authenticate',
  );
}

function digest(value: string): string {
  return cryptoHash('sha256', value, 'base64url');
}

/** The well-formed, unexpired entries of a session property. */
function live<T extends { h: string; e: number }>(value: unknown, now: number): T[] {
  return Array.isArray(value) ? (value as T[]).filter((entry) => isEntry(entry) && entry.e > now) : [];
}

function findEntry<T extends { h: string; e: number }>(value: unknown, hash: string, accept: (entry: T) => boolean): T | undefined {
  const wanted = Buffer.from(hash, 'base64url');
  let match: T | undefined;
  for (const entry of Array.isArray(value) ? (value as T[]) : []) {
    const same = isEntry(entry) && timingSafeEqual(Buffer.from(entry.h, 'base64url'), wanted);
    if (same && !match && accept(entry)) match = entry;
  }
  return match;
}

function isEntry(value: unknown): value is { h: string; e: number } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as StoredEntry).h === 'string' &&
    (value as StoredEntry).h.length === 43 &&
    typeof (value as StoredEntry).e === 'number'
  );
}
