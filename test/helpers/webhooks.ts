import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import type { Response } from 'supertest';
import request from 'supertest';
import {
  captureRawBody,
  fractalWebhooks,
  signFractalWebhook,
  type FractalWebhookEvent,
  type FractalWebhooksOptions,
  type WebhookError,
} from '../../lib/webhooks';

export const WEBHOOK_PATH = '/webhooks/fractal';

/** The provider's known-answer vectors (provider docs, "Webhooks"). */
export const VECTOR_1 = { secret: 'SUP3RS3CR3T', body: 'my-payload', hex: '6a89633e5f131bfb5f0b5826b33b3bab4bf52068' };
export const VECTOR_2 = {
  secret: '9d7e80c0f169ab94d34392d64617b7517fb07c40',
  body: '{"type":"verification_approved","data":{"level":"basic","user_id":"b5c5a2cd-643e-444b-9591-e7b25fec997d","timestamp":"2020-10-09T10:50:32Z"}}',
  signature: 'sha1=9e581dd775e5ba87e9839b595d6eb0d784ecfdb6',
};

export const SECRET = 'test-webhook-secret';

/**
 * How the app around the webhook route parses bodies:
 * - `none`: no body parser at all;
 * - `json-after`: a global `express.json()` registered after the webhook route;
 * - `json-capture`: a global `express.json({ verify: captureRawBody })` before the route (+ errorHandler);
 * - `json-plain`: a global `express.json()` before the route, without captureRawBody (a set-up bug);
 * - `raw`: `express.raw({ type: 'application/json' })` on the route (+ errorHandler).
 */
export type BodySetup = 'none' | 'json-after' | 'json-capture' | 'json-plain' | 'raw';

export interface WebhookTestApp {
  app: Express;
  /** Every event handed to onEvent, in order. */
  events: FractalWebhookEvent[];
  /** Every error reported to onError. */
  errors: WebhookError[];
}

/** An app as a user would write it, recording what the middleware hands over. */
export function webhookApp(options: Partial<FractalWebhooksOptions> = {}, setup: BodySetup = 'none'): WebhookTestApp {
  const events: FractalWebhookEvent[] = [];
  const errors: WebhookError[] = [];
  const webhooks = fractalWebhooks({
    secrets: SECRET,
    // These tests post events with the fixed dates of the provider's examples (2020, 2021): the
    // replay window would refuse them. It has its own tests (webhooks-replay.test.ts), which set it.
    replayWindowMs: false,
    ...options,
    onEvent: async (event, req) => {
      events.push(event);
      await options.onEvent?.(event, req);
    },
    onError: (err) => errors.push(err),
  });
  const app = express();
  if (setup === 'json-capture') app.use(express.json({ verify: captureRawBody }));
  if (setup === 'json-plain') app.use(express.json());
  if (setup === 'raw') app.post(WEBHOOK_PATH, express.raw({ type: 'application/json' }), webhooks);
  else app.post(WEBHOOK_PATH, webhooks);
  // body-parser's own refusals (its 100 kB limit, malformed JSON) as our JSON answers.
  if (setup === 'json-capture' || setup === 'raw') app.use(WEBHOOK_PATH, webhooks.errorHandler);
  if (setup === 'json-after') app.use(express.json());
  // Something else in the app, to show the global parser is really in use.
  app.post('/echo', (req, res) => {
    res.json({ body: req.body as unknown });
  });
  return { app, events, errors };
}

/** A JSON body for an event. */
export function eventBody(type: string, data: unknown): string {
  return JSON.stringify({ type, data });
}

export function verificationBody(type: string, timestamp: string, overrides: Record<string, unknown> = {}): string {
  return eventBody(type, { level: 'basic', user_id: 'user-1', timestamp, ...overrides });
}

/**
 * POSTs `body` to the webhook route of `target` (an app, or the URL of a listening one). The
 * signature defaults to a correct one with `secret`; `signature: null` sends none.
 */
export function postWebhook(
  target: Express | string,
  body: string | Buffer,
  options: { secret?: string; signature?: string | null; contentType?: string | null } = {},
): request.Test {
  const test = typeof target === 'string' ? request(new URL(target).origin).post(new URL(target).pathname) : request(target).post(WEBHOOK_PATH);
  const contentType = options.contentType === undefined ? 'application/json' : options.contentType;
  if (contentType !== null) test.set('Content-Type', contentType);
  const signature = options.signature === undefined ? signFractalWebhook(options.secret ?? SECRET, body) : options.signature;
  if (signature !== null) test.set('X-Fractal-Signature', signature);
  // superagent would JSON-encode a Buffer sent as application/json; a string goes out byte for byte.
  return test.send(typeof body === 'string' ? body : body.toString('utf8'));
}

/** The answer is the middleware's JSON error: status, code, a description, and nothing leaked. */
export function expectWebhookError(res: Response, status: number, code: string): void {
  expect({ status: res.status, error: res.body?.error }).toEqual({ status, error: code });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(typeof res.body.error_description).toBe('string');
  expect(Object.keys(res.body).sort()).toEqual(['error', 'error_description']);
  expect(res.text).not.toMatch(/\bat .+\.(ts|js):\d+/); // no stack trace
  expect(res.text).not.toContain(SECRET);
}

export function expectAccepted(res: Response, duplicate = false): void {
  expect({ status: res.status, body: res.body as unknown }).toEqual({
    status: 200,
    body: duplicate ? { received: true, duplicate: true } : { received: true },
  });
}

/** Listens on an ephemeral loopback port. */
export async function listen(app: Express): Promise<{ url: string; close: () => Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${WEBHOOK_PATH}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A promise with its resolve function, to hold a handler open. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
