import type { Request } from 'express';
import { ConfigurationError } from '../errors';
import { ErrorCode } from '../errors';
import { FractalError } from '../errors';
import { StateError } from '../errors';
import { readCallbackParams, type CallbackQuery } from './callback-query';

/**
 * The embedded journey's callback: instead of redirecting, the Fractal ID frame posts `{code,
 * state}` to the parent window (user-integration/embedded-journey-iframe.md, "Iframe messages"),
 * and our browser script (browser/fractal-embed.js) POSTs them to the callback URL. The POST then
 * goes through the same one-time, session-bound state check as a redirect callback.
 *
 * A POST can be sent by any page on the web, so on top of `state` the request must come from the
 * app's own origin (the `Origin` header, which browsers set on every POST; the Fetch standard
 * forbids scripts from changing it). Checked before the body is read or the state touched, so a
 * refused request changes nothing.
 *
 * @see https://fetch.spec.whatwg.org/#origin-header
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.7 (CSRF)
 */

export interface EmbeddedCallbackOptions {
  /**
   * Origins allowed to POST the embedded journey's `{code, state}` to the callback
   * (`Origin` header, compared exactly). Default: the origin of `callbackURL`.
   */
  callbackPostOrigins?: readonly string[];
}

/** A POST callback whose `Origin` header is missing or not the app's own. */
export class OriginError extends FractalError {
  constructor(message: string) {
    super(ErrorCode.INVALID_ORIGIN, message);
  }
}

/** Bodies are two short strings; anything bigger is not ours. */
export const MAX_CALLBACK_BODY_BYTES = 8 * 1024;

/** Checks `callbackPostOrigins` at construction. @throws ConfigurationError */
export function checkPostOrigins(value: readonly string[] | undefined, callbackURL: string): string[] {
  if (value === undefined) return [new URL(callbackURL).origin];
  if (!Array.isArray(value) || value.length === 0) throw new ConfigurationError('callbackPostOrigins must be a non-empty array of origins');
  return value.map((origin) => {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new ConfigurationError(`callbackPostOrigins: ${JSON.stringify(origin)} is not an origin such as https://app.example.com`);
    }
    // An origin is scheme, host and port only; anything else would never match a header.
    if (url.origin !== origin || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw new ConfigurationError(`callbackPostOrigins: ${JSON.stringify(origin)} must be exactly scheme://host[:port], without path or trailing slash`);
    }
    return origin;
  });
}

/** True when this request is the embedded journey's POST to the callback path (never a sign-in start). */
export function isPostCallback(req: Request, callbackURL: string): boolean {
  if (req.method !== 'POST') return false;
  const url = req.originalUrl ?? req.url ?? '';
  const index = url.indexOf('?');
  return (index === -1 ? url : url.slice(0, index)) === new URL(callbackURL).pathname;
}

/**
 * Checks the origin, then reads `code` and `state` from the body: `application/x-www-form-urlencoded`
 * or `application/json`, at most {@link MAX_CALLBACK_BODY_BYTES}. Uses `req.body` when a body
 * parser already ran, so no parser is needed and one is harmless.
 *
 * @throws OriginError `invalid_origin` (403), StateError `invalid_callback` (400)
 */
export async function readPostCallback(req: Request, allowedOrigins: readonly string[]): Promise<CallbackQuery> {
  const origin = req.headers.origin;
  if (typeof origin !== 'string' || !allowedOrigins.includes(origin)) {
    throw new OriginError(origin === undefined ? 'The callback POST has no Origin header' : 'The callback POST comes from another origin than this app');
  }
  const params = await bodyParams(req);
  for (const field of ['error', 'error_description', 'error_uri'] as const) {
    // The frame reports refusals to the page, never through this POST.
    if (params[field] !== undefined) throw invalid(`The callback POST carries only code and state, not "${field}"`);
  }
  if (params.state === undefined || params.state === '') throw invalid('The callback POST has no state');
  if (params.code === undefined) throw invalid('The callback POST has no code');
  return readCallbackParams(params);
}

function invalid(message: string): StateError {
  return new StateError(message, ErrorCode.INVALID_CALLBACK);
}

async function bodyParams(req: Request): Promise<Record<string, unknown>> {
  const parsed = (req as { body?: unknown }).body;
  // Express 4's body-parser leaves `{}` without reading when the type is not its own: read it then.
  if (typeof parsed === 'object' && parsed !== null && !Buffer.isBuffer(parsed) && (Object.keys(parsed).length > 0 || req.readableEnded)) {
    return parsed as Record<string, unknown>;
  }
  const type = mediaType(req.headers['content-type']);
  if (type !== 'application/x-www-form-urlencoded' && type !== 'application/json') {
    throw invalid('The callback POST must be application/x-www-form-urlencoded or application/json');
  }
  const text = typeof parsed === 'string' ? parsed : Buffer.isBuffer(parsed) ? parsed.toString('utf8') : await readBody(req);
  if (Buffer.byteLength(text) > MAX_CALLBACK_BODY_BYTES) throw invalid('The callback POST body is too large');
  if (type === 'application/json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw invalid('The callback POST body is not valid JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('The callback POST body must be a JSON object');
    return value as Record<string, unknown>;
  }
  const form = new URLSearchParams(text);
  const result: Record<string, unknown> = {};
  for (const key of new Set(form.keys())) {
    const all = form.getAll(key);
    // Repeated parameters become arrays, which readCallbackParams refuses (RFC 6749 section 3.1).
    result[key] = all.length === 1 ? all[0] : all;
  }
  return result;
}

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Reads the raw body with a size limit; an over-long body is refused as soon as it is seen. */
function readBody(req: Request): Promise<string> {
  return new Promise((resolve, reject) => {
    if (req.readableEnded) {
      reject(invalid('The callback POST body was already read by another middleware'));
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_CALLBACK_BODY_BYTES) {
      reject(invalid('The callback POST body is too large'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_CALLBACK_BODY_BYTES) {
        cleanup();
        reject(invalid('The callback POST body is too large'));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
