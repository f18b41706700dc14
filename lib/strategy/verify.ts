import type { Request } from 'express';
import type { FractalProfile } from '../provider';
import type { FractalTokenResponse, FractalTokenSet } from '../provider';

/** What the token response says, plus what we derived from it. */
export interface FractalTokenParams extends FractalTokenResponse {
  /** The validated token set; hand it to the token vault (`saveTokens`) to keep it. */
  tokenSet: FractalTokenSet;
  /** Scopes sent in the authorization request. */
  requestedScopes: string[];
  /** Scopes the grant actually has: the token response is the source of truth. */
  grantedScopes: string[];
  /** Requested but not granted (the user unticked them, or they do not apply to the user's type). */
  deniedScopes: string[];
  /** Granted without being requested (provider defaults such as `uid:read`). */
  addedScopes: string[];
}

/** The passport `done` callback. */
export type FractalVerifyCallback = (err?: Error | null, user?: Express.User | false, info?: object) => void;

/** A verify function may call `done` (the passport convention) or return a promise of the user. */
export type FractalVerifyResult = void | Promise<Express.User | false | void | undefined>;

export type FractalVerify<P = FractalProfile> = (
  accessToken: string,
  refreshToken: string | undefined,
  params: FractalTokenParams,
  profile: P,
  done: FractalVerifyCallback,
) => FractalVerifyResult;

export type FractalVerifyWithRequest<P = FractalProfile> = (
  req: Request,
  accessToken: string,
  refreshToken: string | undefined,
  params: FractalTokenParams,
  profile: P,
  done: FractalVerifyCallback,
) => FractalVerifyResult;

/**
 * Runs a verify function of either style and settles exactly once. A returned promise settles the
 * outcome when it rejects or resolves to a user or `false`; one that resolves to `undefined` (an
 * `async` function that calls `done` itself) leaves the outcome to `done`. Whatever comes second is
 * ignored, so a verify function that both calls `done` and returns a user cannot log in twice.
 */
export function runVerify(
  invoke: (done: FractalVerifyCallback) => unknown,
  settle: (err: unknown, user?: Express.User | false, info?: object) => void,
): void {
  let settled = false;
  const once = (err: unknown, user?: Express.User | false, info?: object): void => {
    if (settled) return;
    settled = true;
    settle(err, user, info);
  };
  let result: unknown;
  try {
    result = invoke((err, user, info) => once(err ?? null, user, info));
  } catch (err) {
    once(err);
    return;
  }
  if (isThenable(result)) {
    result.then(
      (user) => {
        if (user !== undefined) once(null, user as Express.User | false);
      },
      (err: unknown) => once(err ?? new Error('verify rejected without a reason')),
    );
  }
  // A plain (non-promise) return value is ignored: `(…, done) => users.set(id, u) && done(…)`
  // style code returns incidental objects that must never be mistaken for the user.
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
