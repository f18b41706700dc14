import type { Request } from 'express';

/** The parts of an express-session `Session` the state store uses. */
export type SessionLike = Record<string, unknown> & {
  regenerate?: (done: (err?: unknown) => void) => unknown;
  save?: (done: (err?: unknown) => void) => unknown;
  cookie?: { maxAge?: number | null; originalMaxAge?: number | null };
};

export function sessionOf(req: Request): SessionLike | undefined {
  const session = (req as { session?: unknown }).session;
  return typeof session === 'object' && session !== null ? (session as SessionLike) : undefined;
}

/**
 * Makes the session of a visitor who is not signed in expire with their pending sign-in: the
 * cookie's `maxAge` becomes the state TTL (each start extends it), and stores that derive their TTL
 * from the cookie (connect-redis, the memory store) drop the session then. Without it, a cookieless
 * `GET /auth/fractal` cost a session that lived as long as the app's sessions (a day with
 * connect-redis' default), and a script filled Redis with them (issue 14 item 1). A shorter
 * lifetime of the app's own is kept; a signed-in session is never touched.
 */
export function limitAnonymousCookie(req: Request, session: SessionLike, ttlMs: number): void {
  if (isSignedIn(req, session)) return;
  const cookie = session.cookie;
  if (typeof cookie !== 'object' || cookie === null) return;
  const own = cookie.originalMaxAge;
  if (typeof own === 'number' && own < ttlMs) return;
  cookie.maxAge = ttlMs;
}

/**
 * At login the regenerated session has the app's own cookie settings. passport's
 * `keepSessionInfo: true` copies the old session over it, cookie included; handing the old session
 * the fresh cookie first means the copy keeps the app's lifetime, not the pre-login one.
 */
export function restoreCookieAfterRegeneration(previous: SessionLike, fresh: SessionLike): void {
  if (previous !== fresh && typeof fresh.cookie === 'object' && fresh.cookie !== null) previous.cookie = fresh.cookie;
}

function isSignedIn(req: Request, session: SessionLike): boolean {
  const check = (req as { isAuthenticated?: () => boolean }).isAuthenticated;
  if (typeof check === 'function' && check.call(req)) return true;
  const passport = session.passport as { user?: unknown } | undefined;
  return passport !== undefined && passport !== null && passport.user !== undefined;
}
