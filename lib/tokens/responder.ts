import type { NextFunction, Request, Response } from 'express';
import { describeCode, ErrorCode } from '../errors';
import { safeReturnTo } from '../strategy';

/**
 * What a guard decided about one request. A guard is a {@link GuardDecider} (which may read the
 * request and the user's tokens, and decides) plus {@link respondToOutcome} (which answers, the same
 * way for every guard):
 * - `allow`: `next()`;
 * - `sign-in`: nobody usable is signed in. Browsers (Accept: text/html) are redirected to the
 *   sign-in path with `returnTo` (303 after an unsafe method); API clients get 401 JSON
 *   `{ error, error_description }` and `WWW-Authenticate: Bearer realm=...` (with
 *   `error="invalid_token"` when `invalidToken`) (RFC 6750 section 3);
 * - `refuse`: `status` with `{ error, error_description }` (text for browsers), plus
 *   `WWW-Authenticate ... error="insufficient_scope", scope=...` when `scope` is given
 *   (RFC 6750 section 3.1) and `Retry-After` when `retryAfter` is;
 * - `pass-on`: `next(error)`, for the app's error handler (`error.status` says 502 or 504).
 * `description` is sent to the client: fixed, safe text, never an error's `message`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export type GuardOutcome =
  | { readonly kind: 'allow' }
  | {
      readonly kind: 'sign-in';
      readonly error: string;
      readonly description: string;
      readonly invalidToken?: boolean;
      /** Another sign-in path than the guard's own (a path on this site). */
      readonly path?: string;
      /** Extra query parameters of the sign-in redirect, such as the `scope` a KYC level needs. */
      readonly query?: Readonly<Record<string, string>>;
    }
  | {
      readonly kind: 'refuse';
      readonly status: number;
      readonly error: string;
      readonly description: string;
      readonly scope?: readonly string[];
      readonly retryAfter?: number;
      /** The JSON answer, when it is not `{ error, error_description }` (fixed, safe fields only). */
      readonly body?: Readonly<Record<string, unknown>>;
      /** The text answer for browsers, when it is not `description`. */
      readonly text?: string;
    }
  | { readonly kind: 'pass-on'; readonly error: unknown };

/** Where the responder sends browsers, and the realm of its challenges. */
export interface ResponderSettings {
  signInPath: string;
  realm: string;
}

/** Answers one request as `outcome` says (see {@link GuardOutcome}). */
export function respondToOutcome(req: Request, res: Response, next: NextFunction, outcome: GuardOutcome, settings: ResponderSettings): void {
  switch (outcome.kind) {
    case 'allow':
      next();
      return;
    case 'pass-on':
      next(outcome.error);
      return;
    case 'sign-in':
      signIn(req, res, settings, outcome);
      return;
    case 'refuse':
      if (outcome.scope !== undefined) {
        res.setHeader('WWW-Authenticate', `Bearer realm="${settings.realm}", error="insufficient_scope", scope="${outcome.scope.join(' ')}"`);
      }
      if (outcome.retryAfter !== undefined) res.setHeader('Retry-After', String(outcome.retryAfter));
      answer(req, res, outcome.status, outcome.error, outcome.description, outcome);
      return;
  }
}

/**
 * The outcome for an error of `getAccessToken()` (or any vault call), for every decider: a grant
 * that is gone asks to sign in again; the store down or the refresh in backoff is 503 with
 * `Retry-After`; anything else goes to the app's error handler.
 */
export function outcomeForError(err: unknown): GuardOutcome {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === ErrorCode.REAUTHENTICATION_REQUIRED) {
    return { kind: 'sign-in', error: code, description: describeCode(code), invalidToken: true };
  }
  if (code === ErrorCode.STORE_UNAVAILABLE || code === ErrorCode.REFRESH_THROTTLED) {
    const retryAfter = (err as { retryAfter?: unknown }).retryAfter;
    // Fixed texts: the store's messages name Redis hosts, which clients need not see.
    return { kind: 'refuse', status: 503, error: code, description: describeCode(code), retryAfter: typeof retryAfter === 'number' ? retryAfter : 1 };
  }
  return { kind: 'pass-on', error: err };
}

/** Browsers get redirects and text; every other client JSON. */
export function wantsHtml(req: Request): boolean {
  return (req.get('accept') ?? '').toLowerCase().includes('text/html');
}

function signIn(req: Request, res: Response, settings: ResponderSettings, outcome: Extract<GuardOutcome, { kind: 'sign-in' }>): void {
  if (wantsHtml(req)) {
    const safe = req.method === 'GET' || req.method === 'HEAD';
    const returnTo = safe ? safeReturnTo(req.originalUrl) : undefined;
    const query = new URLSearchParams(outcome.query);
    if (returnTo !== undefined) query.set('returnTo', returnTo);
    const search = query.toString();
    const path = outcome.path ?? settings.signInPath;
    const target = search === '' ? path : `${path}?${search}`;
    // 303 after an unsafe method, so the browser does not replay a form post at the sign-in route.
    res.redirect(safe ? 302 : 303, target);
    return;
  }
  const challenge = outcome.invalidToken
    ? `Bearer realm="${settings.realm}", error="invalid_token", error_description="${outcome.description}"`
    : `Bearer realm="${settings.realm}"`;
  res.setHeader('WWW-Authenticate', challenge);
  answer(req, res, 401, outcome.error, outcome.description);
}

function answer(req: Request, res: Response, status: number, error: string, description: string, custom: { body?: object; text?: string } = {}): void {
  res.status(status);
  if (wantsHtml(req)) {
    res.type('text/plain').send(custom.text ?? description);
  } else {
    res.json(custom.body ?? { error, error_description: description });
  }
}
