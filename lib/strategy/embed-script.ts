import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Request, Response } from 'express';

/**
 * Absolute path of the browser script of the embedded journey (`browser/fractal-embed.js`, shipped
 * in the package next to `dist/`), for apps that serve files themselves (`res.sendFile`, a CDN copy).
 * Two levels up from both `lib/strategy/` (source) and `dist/strategy/` (built).
 */
export const FRACTAL_EMBED_SCRIPT_PATH = path.join(__dirname, '..', '..', 'browser', 'fractal-embed.js');

/**
 * An Express handler that serves the embedded journey's browser script:
 * `app.get('/fractal-embed.js', fractalEmbedScript())`. Read once; served as JavaScript with
 * `nosniff`, so a CSP `script-src 'self'` allows it and nothing can reinterpret it.
 */
export function fractalEmbedScript(options: { maxAgeSeconds?: number } = {}): (req: Request, res: Response) => void {
  const body = readFileSync(FRACTAL_EMBED_SCRIPT_PATH);
  const maxAge = options.maxAgeSeconds ?? 3600;
  return (_req, res) => {
    res.set({
      'Content-Type': 'text/javascript; charset=utf-8',
      'Cache-Control': `public, max-age=${maxAge}`,
      'X-Content-Type-Options': 'nosniff',
    });
    res.send(body);
  };
}
