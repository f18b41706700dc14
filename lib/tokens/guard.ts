import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ErrorCode } from '../errors';
import { safeReturnTo } from '../strategy';
import { missingScopes } from '../provider';
import type { FractalRequestContext } from './types';

export interface RequireOptions {
  /** Scopes the grant must include; otherwise 403 `insufficient_scope`. */
  scopes?: readonly string[];
}

export interface GuardSettings {
  signInPath: string;
  realm: string;
  context: (req: Request) => FractalRequestContext;
}

/** `error` of the 401 answer when nobody is signed in (a grant that is gone says `reauthentication_required`). */
export const AUTHENTICATION_REQUIRED = ErrorCode.AUTHENTICATION_REQUIRED;

/**
 * Lets a request through only with a valid Fractal ID access token (refreshed if needed) and the
 * given scopes. Otherwise:
 * - not signed in, or grant gone: browsers (Accept: text/html) are redirected to `signInPath`
 *   with `returnTo`; API clients get 401 JSON and `WWW-Authenticate` (RFC 6750 section 3);
 * - missing scopes: 403 `insufficient_scope` (RFC 6750 section 3.1);
 * - token store down: 503 `store_unavailable` with `Retry-After`;
 * - the token expired and its refresh is in backoff after a failure: 503 `refresh_throttled` with
 *   `Retry-After`.
 * Other errors (the provider kept failing) go to `next(err)`; `err.status` says 502 or 504.
 * A revoked grant's tokens are deleted before the redirect, so the next visit is simply signed
 * out: there is no loop.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function requireFractal(settings: GuardSettings, options: RequireOptions = {}): RequestHandler {
  const required = [...(options.scopes ?? [])];
  return async function requireFractalTokens(req: Request, res: Response, next: NextFunction): Promise<void> {
    const ctx = settings.context(req);
    if (ctx.userId === undefined) {
      unauthenticated(req, res, settings, AUTHENTICATION_REQUIRED, 'Sign in with Fractal ID to continue');
      return;
    }
    try {
      await ctx.getAccessToken();
      const missing = missingScopes(required, await ctx.getGrantedScopes());
      if (missing.length > 0) {
        insufficientScope(req, res, settings, missing);
        return;
      }
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      if (code === ErrorCode.REAUTHENTICATION_REQUIRED) {
        unauthenticated(req, res, settings, ErrorCode.REAUTHENTICATION_REQUIRED, 'The Fractal ID authorization is no longer valid; sign in again', true);
        return;
      }
      if (code === ErrorCode.STORE_UNAVAILABLE || code === ErrorCode.REFRESH_THROTTLED) {
        const retryAfter = (err as { retryAfter?: unknown }).retryAfter;
        res.setHeader('Retry-After', String(typeof retryAfter === 'number' ? retryAfter : 1));
        // Fixed texts: the store's messages name Redis hosts, which clients need not see.
        const text = code === ErrorCode.STORE_UNAVAILABLE
          ? 'The token store is unavailable; try again shortly'
          : 'Fractal ID could not renew the authorization just now; try again shortly';
        answer(req, res, 503, code, text);
        return;
      }
      next(err);
      return;
    }
    next();
  };
}

function wantsHtml(req: Request): boolean {
  return (req.get('accept') ?? '').toLowerCase().includes('text/html');
}

function unauthenticated(req: Request, res: Response, settings: GuardSettings, error: string, description: string, invalidToken = false): void {
  if (wantsHtml(req)) {
    const safe = req.method === 'GET' || req.method === 'HEAD';
    const returnTo = safe ? safeReturnTo(req.originalUrl) : undefined;
    const target = returnTo === undefined ? settings.signInPath : `${settings.signInPath}?returnTo=${encodeURIComponent(returnTo)}`;
    // 303 after an unsafe method, so the browser does not replay a form post at the sign-in route.
    res.redirect(safe ? 302 : 303, target);
    return;
  }
  const challenge = invalidToken
    ? `Bearer realm="${settings.realm}", error="invalid_token", error_description="${description}"`
    : `Bearer realm="${settings.realm}"`;
  res.setHeader('WWW-Authenticate', challenge);
  answer(req, res, 401, error, description);
}

function insufficientScope(req: Request, res: Response, settings: GuardSettings, missing: readonly string[]): void {
  res.setHeader('WWW-Authenticate', `Bearer realm="${settings.realm}", error="insufficient_scope", scope="${missing.join(' ')}"`);
  answer(req, res, 403, ErrorCode.INSUFFICIENT_SCOPE, `The Fractal ID authorization lacks the scopes: ${missing.join(' ')}`);
}

function answer(req: Request, res: Response, status: number, error: string, description: string): void {
  res.status(status);
  if (wantsHtml(req)) {
    res.type('text/plain').send(description);
  } else {
    res.json({ error, error_description: description });
  }
}
