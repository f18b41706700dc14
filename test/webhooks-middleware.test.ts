import express from 'express';
import request from 'supertest';
import { captureRawBody, fractalWebhooks, signFractalWebhook, WebhookErrorCode } from '../lib/webhooks';
import {
  eventBody,
  expectAccepted,
  expectWebhookError,
  postWebhook,
  SECRET,
  VECTOR_1,
  VECTOR_2,
  verificationBody,
  WEBHOOK_PATH,
  webhookApp,
  type BodySetup,
} from './helpers/webhooks';

const APPROVED = verificationBody('verification_approved', '2020-10-09T10:50:32Z');

describe('answers (app without a body parser)', () => {
  it('accepts the provider known-answer delivery, with one secret per type', async () => {
    const { app, events } = webhookApp({ secrets: { verification_approved: VECTOR_2.secret, email_changed: 'other' } });
    const res = await postWebhook(app, VECTOR_2.body, { signature: VECTOR_2.signature });
    expectAccepted(res);
    expect(events).toEqual([
      expect.objectContaining({
        type: 'verification_approved',
        known: true,
        stale: false,
        data: { level: 'basic', user_id: 'b5c5a2cd-643e-444b-9591-e7b25fec997d', timestamp: '2020-10-09T10:50:32Z' },
      }),
    ]);
    expect(events[0]?.deliveryId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('checks the "my-payload" known-answer signature, then refuses the body as not JSON', async () => {
    const { app, events, errors } = webhookApp({ secrets: VECTOR_1.secret });
    expectWebhookError(await postWebhook(app, VECTOR_1.body, { signature: `sha1=${VECTOR_1.hex}` }), 400, WebhookErrorCode.INVALID_JSON);
    // A wrong signature on the same body is refused earlier, as a signature problem.
    expectWebhookError(await postWebhook(app, VECTOR_1.body, { signature: `sha1=${'1'.repeat(40)}` }), 400, WebhookErrorCode.INVALID_SIGNATURE);
    expect(events).toHaveLength(0);
    expect(errors.map((e) => e.code)).toEqual([WebhookErrorCode.INVALID_JSON, WebhookErrorCode.INVALID_SIGNATURE]);
  });

  it('refuses a tampered body', async () => {
    const { app, events } = webhookApp();
    const signature = signFractalWebhook(SECRET, APPROVED);
    const tampered = APPROVED.replace('user-1', 'user-2');
    expectWebhookError(await postWebhook(app, tampered, { signature }), 400, WebhookErrorCode.INVALID_SIGNATURE);
    // One byte of whitespace is a different body too: no re-serialisation anywhere.
    expectWebhookError(await postWebhook(app, `${APPROVED} `, { signature }), 400, WebhookErrorCode.INVALID_SIGNATURE);
    expect(events).toHaveLength(0);
  });

  it('refuses a tampered signature', async () => {
    const { app, events } = webhookApp();
    const good = signFractalWebhook(SECRET, APPROVED);
    const flipped = `${good.slice(0, -1)}${good.endsWith('0') ? '1' : '0'}`;
    expectWebhookError(await postWebhook(app, APPROVED, { signature: flipped }), 400, WebhookErrorCode.INVALID_SIGNATURE);
    expect(events).toHaveLength(0);
  });

  it("refuses a body signed with another type's secret", async () => {
    const { app, events, errors } = webhookApp({ secrets: { verification_approved: 'approved-secret', email_changed: 'email-secret' } });
    expectWebhookError(await postWebhook(app, APPROVED, { secret: 'email-secret' }), 400, WebhookErrorCode.INVALID_SIGNATURE);
    expectAccepted(await postWebhook(app, APPROVED, { secret: 'approved-secret' }));
    expect(events).toHaveLength(1);
    expect(errors[0]?.message).toContain('email_changed');
  });

  it('refuses a request without X-Fractal-Signature', async () => {
    const { app, events } = webhookApp();
    expectWebhookError(await postWebhook(app, APPROVED, { signature: null }), 400, WebhookErrorCode.MISSING_SIGNATURE);
    expectWebhookError(await postWebhook(app, APPROVED, { signature: '' }), 400, WebhookErrorCode.MISSING_SIGNATURE);
    expect(events).toHaveLength(0);
  });

  it('refuses sha256= with a reason naming the algorithm', async () => {
    const { app } = webhookApp();
    const res = await postWebhook(app, APPROVED, { signature: `sha256=${'ab'.repeat(32)}` });
    expectWebhookError(res, 400, WebhookErrorCode.UNSUPPORTED_SIGNATURE_ALGORITHM);
    expect(res.body.error_description).toMatch(/sha1/);
  });

  it('accepts upper-case hex in the signature', async () => {
    const { app, events } = webhookApp();
    const upper = `sha1=${signFractalWebhook(SECRET, APPROVED).slice(5).toUpperCase()}`;
    expectAccepted(await postWebhook(app, APPROVED, { signature: upper }));
    expect(events).toHaveLength(1);
  });

  it('refuses an empty body: unsigned, wrongly signed, or signed', async () => {
    const { app, events } = webhookApp();
    expectWebhookError(await postWebhook(app, '', { signature: null }), 400, WebhookErrorCode.MISSING_SIGNATURE);
    expectWebhookError(await postWebhook(app, '', { signature: signFractalWebhook(SECRET, APPROVED) }), 400, WebhookErrorCode.INVALID_SIGNATURE);
    expectWebhookError(await postWebhook(app, ''), 400, WebhookErrorCode.INVALID_JSON);
    expect(events).toHaveLength(0);
  });

  it('refuses truncated JSON, even when correctly signed', async () => {
    const { app, events } = webhookApp();
    expectWebhookError(await postWebhook(app, APPROVED.slice(0, -3)), 400, WebhookErrorCode.INVALID_JSON);
    expect(events).toHaveLength(0);
  });

  it('refuses signed JSON that is not an event object', async () => {
    const { app } = webhookApp();
    for (const body of ['[]', '"verification_approved"', '{"data":{}}', '{"type":42}', '{"type":""}', 'null']) {
      expectWebhookError(await postWebhook(app, body), 400, WebhookErrorCode.INVALID_PAYLOAD);
    }
  });

  it('answers 422 for a signed documented event whose data lacks documented fields', async () => {
    const { app, events, errors } = webhookApp();
    const res = await postWebhook(app, eventBody('verification_approved', { level: 'basic', user_id: 'u' }));
    expectWebhookError(res, 422, WebhookErrorCode.INVALID_EVENT);
    expect(res.body.error_description).toContain('timestamp');
    expectWebhookError(await postWebhook(app, verificationBody('verification_rejected', 'yesterday')), 422, WebhookErrorCode.INVALID_EVENT);
    expectWebhookError(await postWebhook(app, eventBody('email_changed', 'a@example.com')), 422, WebhookErrorCode.INVALID_EVENT);
    expect(events).toHaveLength(0);
    expect(errors).toHaveLength(3);
  });

  it('refuses a body over the limit with 413, by Content-Length or while streaming', async () => {
    const { app, events } = webhookApp({ limit: 1024 });
    const huge = eventBody('email_changed', { user_id: 'u', email: 'a@example.com', pad: 'x'.repeat(2000) });
    expectWebhookError(await postWebhook(app, huge), 413, WebhookErrorCode.PAYLOAD_TOO_LARGE);
    // Chunked: no Content-Length, the limit applies while reading.
    const chunked = await new Promise<request.Response>((resolve, reject) => {
      const test = request(app).post(WEBHOOK_PATH).set('Content-Type', 'application/json').set('X-Fractal-Signature', signFractalWebhook(SECRET, huge));
      test.write(huge.slice(0, 1000));
      test.write(huge.slice(1000));
      test.end((err, res) => (err ? reject(err) : resolve(res)));
    });
    expectWebhookError(chunked, 413, WebhookErrorCode.PAYLOAD_TOO_LARGE);
    expect(events).toHaveLength(0);
  });

  it('refuses a 1 MiB body with the default 64 KiB limit', async () => {
    const { app } = webhookApp();
    expectWebhookError(await postWebhook(app, Buffer.alloc(1024 * 1024, 0x20)), 413, WebhookErrorCode.PAYLOAD_TOO_LARGE);
    expectAccepted(await postWebhook(app, eventBody('email_changed', { user_id: 'u', email: 'e', pad: 'x'.repeat(60_000) })));
  });

  it('refuses non-JSON content types, other charsets and content codings with 415', async () => {
    const { app, events } = webhookApp();
    for (const contentType of [null, 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=iso-8859-1']) {
      expectWebhookError(await postWebhook(app, APPROVED, { contentType }), 415, WebhookErrorCode.UNSUPPORTED_MEDIA_TYPE);
    }
    const gz = await postWebhook(app, APPROVED).set('Content-Encoding', 'gzip');
    expectWebhookError(gz, 415, WebhookErrorCode.UNSUPPORTED_MEDIA_TYPE);
    expectAccepted(await postWebhook(app, APPROVED, { contentType: 'application/json; charset=UTF-8' }));
    expect(events).toHaveLength(1);
  });

  it('answers 405 to other methods when mounted with app.use', async () => {
    const webhooks = fractalWebhooks({ secrets: SECRET, onEvent: () => undefined, onError: () => undefined });
    const app = express();
    app.use(WEBHOOK_PATH, webhooks);
    const res = await request(app).get(WEBHOOK_PATH);
    expectWebhookError(res, 405, WebhookErrorCode.METHOD_NOT_ALLOWED);
    expect(res.headers.allow).toBe('POST');
  });

  it('passes unknown types through as known: false, without crashing', async () => {
    const { app, events } = webhookApp();
    expectAccepted(await postWebhook(app, eventBody('kyc_expired', { user_id: 'u', reason: 'age' })));
    expectAccepted(await postWebhook(app, '{"type":"ping"}'));
    expect(events.map((e) => [e.type, e.known, e.stale, e.data])).toEqual([
      ['kyc_expired', false, false, { user_id: 'u', reason: 'age' }],
      ['ping', false, false, undefined],
    ]);
  });

  it('accepts each documented type with its documented data', async () => {
    const { app, events } = webhookApp();
    const bodies = [
      verificationBody('verification_rejected', '2021-01-01T00:00:00Z'),
      verificationBody('verification_contacted', '2021-01-01T00:00:01Z', { level: 'plus' }),
      eventBody('credential_shared', { idos_human_id: 'h', credential_id: 'c', shared_at: '2021-01-01T00:00:00Z' }),
      eventBody('email_changed', { user_id: 'u', email: 'new@example.com' }),
    ];
    for (const body of bodies) expectAccepted(await postWebhook(app, body));
    expect(events.map((e) => [e.type, e.known])).toEqual([
      ['verification_rejected', true],
      ['verification_contacted', true],
      ['credential_shared', true],
      ['email_changed', true],
    ]);
  });

  it('rotates secrets: old and new both verify during the rotation, then only the new one', async () => {
    const during = webhookApp({ secrets: ['new-secret', 'old-secret'] });
    expectAccepted(await postWebhook(during.app, APPROVED, { secret: 'old-secret' }));
    expectAccepted(await postWebhook(during.app, verificationBody('verification_approved', '2020-10-09T10:50:33Z'), { secret: 'new-secret' }));
    const after = webhookApp({ secrets: { verification_approved: ['new-secret'], '*': 'fallback' } });
    expectWebhookError(await postWebhook(after.app, APPROVED, { secret: 'old-secret' }), 400, WebhookErrorCode.INVALID_SIGNATURE);
    expectAccepted(await postWebhook(after.app, APPROVED, { secret: 'new-secret' }));
    // '*' covers types without their own entry, including unknown ones.
    expectAccepted(await postWebhook(after.app, eventBody('kyc_expired', {}), { secret: 'fallback' }));
    expectWebhookError(await postWebhook(after.app, APPROVED, { secret: 'fallback' }), 400, WebhookErrorCode.INVALID_SIGNATURE);
  });

  it('answers 2xx only after onEvent resolved', async () => {
    let finished = false;
    const { app } = webhookApp({
      onEvent: async () => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        finished = true;
      },
    });
    expectAccepted(await postWebhook(app, APPROVED));
    expect(finished).toBe(true);
  });

  it('answers 500 without details when onEvent fails, and reports the cause to onError', async () => {
    const { app, errors } = webhookApp({
      onEvent: () => {
        throw new Error('database password is hunter2');
      },
    });
    const res = await postWebhook(app, APPROVED);
    expectWebhookError(res, 500, WebhookErrorCode.HANDLER_FAILED);
    expect(res.text).not.toContain('hunter2');
    expect(errors[0]?.code).toBe(WebhookErrorCode.HANDLER_FAILED);
    expect((errors[0]!.cause as Error).message).toContain('hunter2');
  });

  it('logs server-side failures with console.error when no onError is given', async () => {
    const log = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const app = express();
      app.post(WEBHOOK_PATH, fractalWebhooks({ secrets: SECRET, replayWindowMs: false, onEvent: () => Promise.reject(new Error('boom')) }));
      await postWebhook(app, APPROVED).expect(500);
      await postWebhook(app, APPROVED, { signature: null }).expect(400);
      expect(log).toHaveBeenCalledTimes(1);
      expect(String(log.mock.calls[0]?.[0])).toContain('handler_failed');
    } finally {
      log.mockRestore();
    }
  });

  it('never echoes the secret or the signature in answers or reports', async () => {
    const { app, errors } = webhookApp();
    const signature = signFractalWebhook(SECRET, APPROVED);
    const res = await postWebhook(app, APPROVED.replace('basic', 'plus'), { signature });
    expect(res.text).not.toContain(signature.slice(5));
    expect(JSON.stringify(errors.map((e) => [e.message, e.description]))).not.toMatch(new RegExp(`${SECRET}|${signature.slice(5)}`));
  });

  it('refuses bad options at construction, with a hint', () => {
    expect(() => fractalWebhooks({ secrets: '', onEvent: () => undefined })).toThrow(/secrets/);
    expect(() => fractalWebhooks({ secrets: 's' } as never)).toThrow(/onEvent/);
    expect(() => fractalWebhooks({ secrets: 's', onEvent: () => undefined, limit: 0 })).toThrow(/limit/);
  });
});

describe('body parsers around the route', () => {
  const working: BodySetup[] = ['none', 'json-after', 'json-capture', 'raw'];

  it.each(working)('verifies the exact bytes with set-up "%s", while other routes keep their parser', async (setup) => {
    const { app, events } = webhookApp({}, setup);
    // Spacing that JSON.stringify(req.body) would not reproduce: only raw bytes verify.
    const spaced = APPROVED.replace('{"type"', '{ "type"');
    expectAccepted(await postWebhook(app, spaced));
    expectWebhookError(await postWebhook(app, spaced, { signature: signFractalWebhook(SECRET, APPROVED) }), 400, WebhookErrorCode.INVALID_SIGNATURE);
    expect(events).toHaveLength(1);
    const echo = await request(app).post('/echo').send({ a: 1 });
    expect(echo.body).toEqual(setup === 'none' || setup === 'raw' ? {} : { body: { a: 1 } });
  });

  it.each(working)('answers with JSON for truncated JSON, huge bodies and empty bodies with set-up "%s"', async (setup) => {
    const { app, events } = webhookApp({}, setup);
    expectWebhookError(await postWebhook(app, APPROVED.slice(0, -3)), 400, WebhookErrorCode.INVALID_JSON);
    expectWebhookError(await postWebhook(app, APPROVED.slice(0, -3), { signature: `sha1=${'0'.repeat(40)}` }), 400, WebhookErrorCode.INVALID_SIGNATURE);
    // Over express.json's own 100 kB limit, and over ours.
    expectWebhookError(await postWebhook(app, Buffer.alloc(200 * 1024, 0x20)), 413, WebhookErrorCode.PAYLOAD_TOO_LARGE);
    expectWebhookError(await postWebhook(app, Buffer.alloc(80 * 1024, 0x20)), 413, WebhookErrorCode.PAYLOAD_TOO_LARGE);
    expectWebhookError(await postWebhook(app, ''), 400, WebhookErrorCode.INVALID_JSON);
    expect(events).toHaveLength(0);
  });

  it('refuses, with a fix in the message, when a global express.json() ate the raw body', async () => {
    const { app, events, errors } = webhookApp({}, 'json-plain');
    const res = await postWebhook(app, APPROVED);
    expectWebhookError(res, 503, WebhookErrorCode.RAW_BODY_UNAVAILABLE);
    expect(res.body.error_description).toContain('captureRawBody');
    expect(errors[0]?.message).toMatch(/before app\.use\(express\.json\(\)\)/);
    expect(events).toHaveLength(0);
  });

  it('never verifies over re-serialised JSON, even when it would match', async () => {
    const { app, events } = webhookApp({}, 'json-plain');
    // APPROVED is exactly what JSON.stringify(req.body) gives back: a re-serialising middleware would accept it.
    expect(JSON.stringify(JSON.parse(APPROVED))).toBe(APPROVED);
    expectWebhookError(await postWebhook(app, APPROVED), 503, WebhookErrorCode.RAW_BODY_UNAVAILABLE);
    expect(events).toHaveLength(0);
  });

  it('works on a Router and on Express 4', async () => {
    const router = express.Router();
    const seen: string[] = [];
    router.post('/fractal', fractalWebhooks({ secrets: SECRET, replayWindowMs: false, onEvent: (e) => void seen.push(e.type) }));
    const app5 = express();
    app5.use('/webhooks', router);
    expectAccepted(await postWebhook(app5, APPROVED));
    const express4 = require('express4') as typeof import('express');
    const app4 = express4();
    app4.use(express4.json({ verify: captureRawBody }));
    app4.post(WEBHOOK_PATH, fractalWebhooks({ secrets: SECRET, replayWindowMs: false, onEvent: (e) => void seen.push(`4:${e.type}`) }));
    expectAccepted(await postWebhook(app4, APPROVED));
    expect(seen).toEqual(['verification_approved', '4:verification_approved']);
  });
});
