import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebhookError, WebhookErrorCode } from './errors';

/**
 * Getting at the exact bytes the provider signed, whatever body parser the app has.
 *
 * Three set-ups work: the webhook route mounted before any body parser (the middleware reads the
 * stream itself); a global `express.json({ verify: captureRawBody })`; or `express.raw()` in front
 * of the route (`req.body` is then a Buffer). A parser that consumed the stream without keeping the
 * bytes is detected and refused with `raw_body_unavailable`: re-serialising `req.body` would give
 * other bytes (and verify what a parser made of the input, not the input).
 */

/** Where {@link captureRawBody} keeps the bytes. `Symbol.for`, so two installed copies agree. */
export const RAW_BODY = Symbol.for('passport-fractal-id.rawBody');

interface RawBodyCarrier {
  [RAW_BODY]?: Buffer;
  rawBody?: unknown;
  body?: unknown;
}

/**
 * A `verify` function for `express.json()` (body-parser) that keeps the raw bytes on the request,
 * so the webhook middleware can check the signature after a global JSON parser ran:
 * `app.use(express.json({ verify: captureRawBody }))`. It keeps a reference to a Buffer the parser
 * read anyway; nothing is copied.
 */
export function captureRawBody(req: IncomingMessage, _res: ServerResponse, buf: Buffer, _encoding?: string): void {
  (req as IncomingMessage & RawBodyCarrier)[RAW_BODY] = buf;
}

/**
 * The raw body another middleware already read: {@link captureRawBody}'s bytes, a Buffer in
 * `req.rawBody` (set by some platforms and middlewares) or in `req.body` (`express.raw()`).
 * Verifying a Buffer that is not the received bytes can only fail the signature check; what is
 * parsed afterwards is always these verified bytes, never `req.body`.
 */
export function capturedRawBody(req: IncomingMessage): Buffer | undefined {
  const carrier = req as IncomingMessage & RawBodyCarrier;
  const captured = carrier[RAW_BODY];
  if (Buffer.isBuffer(captured)) return captured;
  if (Buffer.isBuffer(carrier.rawBody)) return carrier.rawBody;
  if (Buffer.isBuffer(carrier.body)) return carrier.body;
  return undefined;
}

/** True when something already read the request stream (a body parser ran before us). */
export function bodyWasConsumed(req: IncomingMessage): boolean {
  return req.readableEnded || (req.complete && !req.readable);
}

/**
 * Accepts `application/json` and `application/<x>+json` (RFC 6839), in UTF-8 (RFC 8259 section
 * 8.1), without a content coding: the provider signs the bytes it sends, and a decoded body would
 * not be them.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-15.5.16 (415)
 */
export function checkContentType(req: IncomingMessage): void {
  const header = req.headers['content-type'] ?? '';
  // What the provider sends, decided without parsing (the same answer as below), on every delivery.
  if ((header === 'application/json' || header === 'application/json; charset=utf-8') && req.headers['content-encoding'] === undefined) return;
  const [mediaType = '', ...params] = header.split(';');
  const type = mediaType.trim().toLowerCase();
  if (type !== 'application/json' && !/^application\/[a-z0-9!#$&^_.-]+\+json$/.test(type)) {
    throw new WebhookError(WebhookErrorCode.UNSUPPORTED_MEDIA_TYPE, 'The webhook request is not application/json', {
      description: 'Fractal ID webhooks are application/json',
    });
  }
  for (const param of params) {
    const [name = '', value = ''] = param.split('=');
    if (name.trim().toLowerCase() !== 'charset') continue;
    const charset = value.trim().replace(/^"|"$/g, '').toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') {
      throw new WebhookError(WebhookErrorCode.UNSUPPORTED_MEDIA_TYPE, 'The webhook body is not UTF-8', {
        description: 'JSON must be UTF-8',
      });
    }
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity') {
    throw new WebhookError(WebhookErrorCode.UNSUPPORTED_MEDIA_TYPE, 'The webhook body has a Content-Encoding', {
      description: 'Content-Encoding is not supported on webhooks',
    });
  }
}

/** The request went away before its body arrived: there is nobody left to answer. */
export class RequestAbortedError extends Error {
  constructor() {
    super('The webhook request was aborted before its body arrived');
    this.name = 'RequestAbortedError';
  }
}

export function tooLarge(limit: number): WebhookError {
  return new WebhookError(WebhookErrorCode.PAYLOAD_TOO_LARGE, `The webhook body is larger than ${limit} bytes (option \`limit\`)`, {
    description: `The body exceeds ${limit} bytes`,
  });
}

export function readTimedOut(timeoutMs: number): WebhookError {
  return new WebhookError(WebhookErrorCode.REQUEST_TIMEOUT, `The webhook body did not arrive within ${timeoutMs} ms (option \`readTimeoutMs\`)`, {
    description: `The body did not arrive within ${timeoutMs} ms`,
  });
}

/**
 * Reads the whole body, refusing more than `limit` bytes: at once from `Content-Length`, or as soon
 * as a chunked body passes the limit. After a refusal the rest is read and discarded, so the
 * client can still read the 413 answer instead of a reset connection.
 *
 * `timeoutMs` bounds the whole read, not the gap between chunks: a client sending one byte a second
 * never trips an idle timer, and would hold the socket (and this promise) for as long as it likes.
 * The caller answers 408 with `Connection: close`, which makes Node close the socket.
 */
export function readRawBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(tooLarge(limit));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      cleanup();
      chunks.length = 0;
      req.resume();
      reject(readTimedOut(timeoutMs));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        chunks.length = 0;
        req.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      // One chunk (a 1 KiB delivery usually is): no copy.
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (): void => {
      cleanup();
      reject(new RequestAbortedError());
    };
    const onClose = (): void => {
      // 'close' before 'end': the client hung up mid-body.
      cleanup();
      reject(new RequestAbortedError());
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
