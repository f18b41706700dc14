import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { ConfigurationError } from '../errors';
import { StateError } from '../errors';

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

interface StoredEntry {
  /** SHA-256 of the state value: the session never holds a reusable state. */
  h: string;
  /** PKCE code_verifier (RFC 7636), absent when PKCE is off. */
  v?: string;
  /** Expiry, epoch ms. */
  e: number;
  d: PendingAuthorization;
}

export type StoreCallback = (err: Error | null, state?: string) => void;
export type VerifyCallback = (err: Error | null, ok?: string | boolean, info?: PendingAuthorization | StateError) => void;

/**
 * The state store interface passport-oauth2 calls with PKCE (`store` with 5 parameters, `verify`
 * with 4). A custom store must keep this shape.
 */
export interface FractalStateStore {
  store(req: Request, verifier: string | undefined, state: PendingAuthorization, meta: object, callback: StoreCallback): void;
  verify(req: Request, providedState: string, meta: object, callback: VerifyCallback): void;
}

export interface SessionStateStoreOptions {
  /** Session property holding pending requests. Default `fractal:pending`. */
  key?: string;
  /** How long a pending request stays valid. Default 10 minutes, the lifetime of a Fractal ID code. */
  ttlMs?: number;
  /** Pending requests kept per session; the oldest is evicted beyond it. Default 10. */
  maxPending?: number;
}

const MAX_STATE_LENGTH = 512;

/**
 * Keeps pending authorization requests in `req.session`, keyed by their `state` value, so a user
 * with several tabs can finish each sign-in. Each entry is single-use: it is removed from the
 * session before it is checked, so a replayed callback fails even if the first one is still in
 * flight (as openid-client does).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-10.12 (CSRF and `state`)
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-2.1
 */
export class SessionStateStore implements FractalStateStore {
  readonly key: string;
  readonly #ttlMs: number;
  readonly #maxPending: number;

  constructor(options: SessionStateStoreOptions = {}) {
    this.key = options.key ?? 'fractal:pending';
    this.#ttlMs = options.ttlMs ?? 10 * 60 * 1000;
    this.#maxPending = options.maxPending ?? 10;
    if (!(this.#ttlMs > 0)) throw new ConfigurationError('stateTTL must be a positive number of milliseconds');
    if (!Number.isInteger(this.#maxPending) || this.#maxPending < 1) throw new ConfigurationError('maxPendingStates must be a positive integer');
  }

  store(req: Request, verifier: string | undefined, state: PendingAuthorization, _meta: object, callback: StoreCallback): void {
    const session = sessionOf(req);
    if (!session) {
      callback(missingSession());
      return;
    }
    const handle = randomBytes(32).toString('base64url');
    const now = Date.now();
    const entries = this.#live(session, now);
    const entry: StoredEntry = { h: digest(handle), e: now + this.#ttlMs, d: state };
    if (verifier !== undefined) entry.v = verifier;
    entries.push(entry);
    // Bounded so a script hammering /auth/fractal cannot grow the session without limit.
    while (entries.length > this.#maxPending) entries.shift();
    session[this.key] = entries;
    callback(null, handle);
  }

  verify(req: Request, providedState: string, _meta: object, callback: VerifyCallback): void {
    const session = sessionOf(req);
    if (!session) {
      callback(missingSession());
      return;
    }
    if (typeof providedState !== 'string' || providedState.length === 0 || providedState.length > MAX_STATE_LENGTH) {
      callback(null, false, new StateError('The callback has no valid state parameter'));
      return;
    }
    const wanted = Buffer.from(digest(providedState), 'base64url');
    const now = Date.now();
    const stored = Array.isArray(session[this.key]) ? (session[this.key] as StoredEntry[]) : [];
    let match: StoredEntry | undefined;
    const rest: StoredEntry[] = [];
    for (const entry of stored) {
      // Compare every entry in constant time; do not stop early on a match.
      const same = isEntry(entry) && timingSafeEqual(Buffer.from(entry.h, 'base64url'), wanted);
      if (same && !match) match = entry;
      else if (isEntry(entry) && entry.e > now) rest.push(entry);
    }
    // Consume before checking anything else: a replay of this state must fail.
    if (rest.length > 0) session[this.key] = rest;
    else delete session[this.key];

    if (!match) {
      callback(null, false, new StateError('Unknown or already used sign-in state; start the sign-in again'));
      return;
    }
    if (match.e <= now) {
      callback(null, false, new StateError('The sign-in took too long and its state expired; start the sign-in again'));
      return;
    }
    callback(null, match.v ?? true, match.d);
  }

  /**
   * passport 0.6+ regenerates the session at login, dropping everything in it unless the app
   * passes `keepSessionInfo: true`. Other tabs' pending sign-ins must survive that, so this wraps
   * the session's `regenerate` for the current request to carry our entries (and nothing else)
   * into the new session. The session id still changes, which is what prevents fixation.
   */
  carryAcrossRegeneration(req: Request): void {
    const session = sessionOf(req);
    if (!session || typeof session.regenerate !== 'function') return;
    const key = this.key;
    const original = session.regenerate;
    const wrapped = function (this: unknown, done: (err?: unknown) => void) {
      const carried = session[key];
      return original.call(this, (err?: unknown) => {
        const fresh = sessionOf(req);
        if (!err && fresh && carried !== undefined && fresh[key] === undefined) fresh[key] = carried;
        done(err);
      });
    };
    // Own, non-enumerable property: never serialised into the session store.
    Object.defineProperty(session, 'regenerate', { value: wrapped, configurable: true, writable: true, enumerable: false });
  }

  /** Number of pending sign-ins in this session (expired ones excluded). */
  pendingCount(req: Request): number {
    const session = sessionOf(req);
    return session ? this.#live(session, Date.now()).length : 0;
  }

  #live(session: SessionLike, now: number): StoredEntry[] {
    const value = session[this.key];
    return Array.isArray(value) ? (value as StoredEntry[]).filter((entry) => isEntry(entry) && entry.e > now) : [];
  }
}

type SessionLike = Record<string, unknown> & { regenerate?: (done: (err?: unknown) => void) => unknown };

function sessionOf(req: Request): SessionLike | undefined {
  const session = (req as { session?: unknown }).session;
  return typeof session === 'object' && session !== null ? (session as SessionLike) : undefined;
}

function missingSession(): ConfigurationError {
  return new ConfigurationError(
    'FractalStrategy keeps sign-in state in the session: add express-session (app.use(session(...))) before passport.authenticate',
  );
}

function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

function isEntry(value: unknown): value is StoredEntry {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as StoredEntry).h === 'string' &&
    (value as StoredEntry).h.length === 43 &&
    typeof (value as StoredEntry).e === 'number' &&
    typeof (value as StoredEntry).d === 'object'
  );
}
