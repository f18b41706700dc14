import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { escapeHtml } from './pages';

/**
 * The embedded journey (user-integration/embedded-journey-iframe.md): the same `/authorize` URL
 * opened in an iframe, where "the redirections from OAuth2 behavior are replaced by messages from
 * the iframe to the parent window": `{code, sub1, state}` on success (`sub1` a copy of the code, as
 * in the docs' example), `{error}` on refusal.
 *
 * The docs do not say how Fractal ID knows it is framed. The sandbox asks the browser: a navigation
 * inside an iframe carries `Sec-Fetch-Dest: iframe` (Fetch Metadata), for the page and for the
 * form posted from it, so no parameter changes the URL and no script runs on the consent page.
 *
 * @see https://www.w3.org/TR/fetch-metadata/#sec-fetch-dest-header
 */
export function isFramed(req: Request): boolean {
  return req.get('sec-fetch-dest') === 'iframe';
}

/**
 * A framed consent page may be framed by the client's own origin only (the redirect URI's origin,
 * as registered): `frame-ancestors` replaces the sandbox's default `'none'`, which stays for
 * every page not requested by a frame. X-Frame-Options cannot
 * name an origin any more, and browsers ignore it when `frame-ancestors` is present (an empty
 * value here removes it).
 */
export function framingHeaders(redirectUri: string): Record<string, string> {
  return {
    'Content-Security-Policy': `default-src 'none'; style-src 'unsafe-inline'; frame-ancestors ${new URL(redirectUri).origin}; base-uri 'none'`,
    'X-Frame-Options': '',
  };
}

/**
 * Instead of redirecting to `location` (the redirect URI with `code`/`state` or `error`), posts
 * the same outcome to the parent window, addressed to the redirect URI's origin only: another
 * page framing the journey receives nothing.
 */
export function sendFramedResult(res: Response, location: string): void {
  const url = new URL(location);
  const params = url.searchParams;
  const code = params.get('code');
  const message: Record<string, string> =
    code !== null
      ? { code, sub1: code, state: params.get('state') ?? '' }
      : { error: params.get('error') ?? 'server_error', ...(params.get('error_description') ? { error_description: params.get('error_description') as string } : {}) };
  const nonce = randomBytes(16).toString('base64');
  // JSON in a script: escape `<` so no value can close the element.
  const json = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');
  const html = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Fractal ID sandbox</title></head>
<body>
  <p class="banner" role="note">Local Fractal ID sandbox: a test emulator.</p>
  <p id="framed-result" role="status">${code !== null ? 'Verification complete. Returning to the application…' : `Verification ended: ${escapeHtml(message.error as string)}`}</p>
  <script nonce="${nonce}">window.parent.postMessage(${json(message)}, ${json(url.origin)});</script>
</body>
</html>
`;
  res
    .status(200)
    .set({
      'Cache-Control': 'no-store',
      'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; frame-ancestors ${url.origin}; base-uri 'none'`,
      'Referrer-Policy': 'no-referrer',
    })
    .type('html')
    .send(html);
}
