import { createHash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { errorPage } from './views';

/**
 * Response headers of every page and the CSRF check of state-changing requests.
 *
 * - `X-Content-Type-Options: nosniff` on everything: a browser never runs a response as a script
 *   or style unless its type says so (https://fetch.spec.whatwg.org/#x-content-type-options-header).
 * - A Content-Security-Policy on HTML: scripts from this origin and the inline ones of the page
 *   by hash (CSP Level 3 section 8.2), no plugins, no `<base>`, and `frame-ancestors 'none'`
 *   (section 7.3) so no other site can frame the app (clickjacking). The provider's FRONTEND
 *   origin (and this origin: the frame starts at `/auth/fractal`) may be framed by the app
 *   (`frame-src`), for the in-page verification.
 * - `Cache-Control: no-store` on `/profile` and `/api/*`: personal data stays out of shared and
 *   back/forward caches (RFC 9111 section 5.2.2.5).
 */
export function securityHeaders(options: { frameSources: readonly string[] }): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    res.set('X-Content-Type-Options', 'nosniff');
    if (req.path === '/profile' || req.path.startsWith('/profile/') || req.path === '/api' || req.path.startsWith('/api/')) {
      res.set('Cache-Control', 'no-store');
    }
    const send = res.send.bind(res);
    res.send = (body?: unknown) => {
      if (typeof body === 'string' && /^text\/html/i.test(String(res.get('Content-Type') ?? ''))) {
        res.set('Content-Security-Policy', contentSecurityPolicy(body, options.frameSources));
      }
      return send(body);
    };
    next();
  };
}

/** The policy of one HTML body: each inline script is allowed by the SHA-256 of its exact text. */
export function contentSecurityPolicy(html: string, frameSources: readonly string[]): string {
  const hashes = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/gi)].map(
    (m) => `'sha256-${createHash('sha256').update(m[1] ?? '', 'utf8').digest('base64')}'`,
  );
  return [
    "default-src 'self'",
    `script-src 'self'${hashes.length ? ` ${[...new Set(hashes)].join(' ')}` : ''}`,
    "object-src 'none'",
    "base-uri 'none'",
    `frame-src 'self' ${frameSources.join(' ')}`,
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * Cross-site request forgery: a state-changing request (POST, PUT, PATCH, DELETE) whose `Origin`
 * is not this app's own (another host, another port, `null`) is refused with 403 before it can
 * touch the session; so is one a browser marks `Sec-Fetch-Site: cross-site` or `same-site`
 * (another port of the same host is same-site, not same-origin). A same-origin form post needs no
 * token: browsers send `Origin` on every cross-origin POST (https://fetch.spec.whatwg.org/#origin-header),
 * and the session cookie is `SameSite=Lax` too. Requests without either header (non-browser
 * clients) carry no ambient cookie risk and pass. Webhooks are exempt: they are signed.
 */
export function sameOriginGuard(options: { baseURL: string; exempt: readonly string[] }): RequestHandler {
  const own = new URL(options.baseURL).origin;
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS' || options.exempt.includes(req.path)) return next();
    const origin = req.get('origin');
    const site = req.get('sec-fetch-site');
    const foreign = origin !== undefined ? origin !== own : site !== undefined && site !== 'same-origin' && site !== 'none';
    if (!foreign) return next();
    const description = 'This request came from another site and was refused.';
    res.status(403);
    if (req.accepts(['html', 'json']) === 'json') res.json({ error: 'forbidden_origin', error_description: description });
    else res.type('html').send(errorPage(403, 'Request refused', description));
  };
}
