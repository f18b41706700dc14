import express from 'express';
import {
  fractalWebhooks,
  signFractalWebhook,
  verifyKrakenWebhook,
  WebhookErrorCode,
  type KrakenWebhookEvent,
  type WebhookError,
} from '../lib/webhooks';
import { eventBody, expectAccepted, expectWebhookError, postWebhook, SECRET, VECTOR_1, VECTOR_2, WEBHOOK_PATH, webhookApp } from './helpers/webhooks';

// Issue 13 item 6: Kraken-format webhooks (migration-to-kraken.md, "4. Webhooks") next to the
// Fractal ID format, chosen by configuration only.

/**
 * Known answers computed outside this code base, with OpenSSL:
 *   printf '%s' 'my-payload' | openssl dgst -sha256 -hmac 'SUP3RS3CR3T'
 *   printf '%s' "$KRAKEN_BODY" | openssl dgst -sha256 -hmac '9d7e80c0f169ab94d34392d64617b7517fb07c40'
 */
const SHA256_MY_PAYLOAD = '18738558dbc4ae4fd6019f77f3d16203f48dc15d8e60cf9fa1ed3fa556462acc';
const KRAKEN = {
  secret: '9d7e80c0f169ab94d34392d64617b7517fb07c40',
  body: '{"id":"b5c5a2cd-643e-444b-9591-e7b25fec997d","status":"rejected","note":"Document expired"}',
  signature: 'c356f903ef4fe5df7c6abf4ba25c495effd06fd7731d95cfca4ee38971373c12',
};

function krakenApp(secrets: string | string[] = KRAKEN.secret) {
  const events: KrakenWebhookEvent[] = [];
  const errors: WebhookError[] = [];
  const app = express();
  app.post(
    WEBHOOK_PATH,
    fractalWebhooks({
      format: 'kraken',
      secrets,
      // Typed by the format: `event.data.status` exists only on Kraken events.
      onEvent: (event) => {
        events.push(event);
        expect(typeof event.data.status).toBe('string');
      },
      onError: (err) => void errors.push(err),
    }),
  );
  return { app, events, errors };
}

describe('known-answer vectors, both formats', () => {
  it('sha1 (Fractal ID format): the provider vectors', () => {
    expect(signFractalWebhook(VECTOR_1.secret, VECTOR_1.body)).toBe(`sha1=${VECTOR_1.hex}`);
    expect(signFractalWebhook(VECTOR_2.secret, VECTOR_2.body, 'sha1')).toBe(VECTOR_2.signature);
  });

  it("sha256 (Kraken format): bare lower-case hex, equal to OpenSSL's", () => {
    expect(signFractalWebhook(VECTOR_1.secret, VECTOR_1.body, 'sha256')).toBe(SHA256_MY_PAYLOAD);
    expect(signFractalWebhook(KRAKEN.secret, Buffer.from(KRAKEN.body), 'sha256')).toBe(KRAKEN.signature);
  });

  it('verifyKrakenWebhook accepts the vector and types it', () => {
    expect(verifyKrakenWebhook(Buffer.from(KRAKEN.body), KRAKEN.signature, KRAKEN.secret)).toEqual({
      data: { id: 'b5c5a2cd-643e-444b-9591-e7b25fec997d', status: 'rejected', note: 'Document expired' },
      known: true,
      deliveryId: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    // Upper-case hex decodes to the same bytes.
    expect(verifyKrakenWebhook(Buffer.from(KRAKEN.body), KRAKEN.signature.toUpperCase(), KRAKEN.secret).known).toBe(true);
  });
});

describe("fractalWebhooks({ format: 'kraken' })", () => {
  it('accepts the known-answer delivery, hands over a typed event, and de-duplicates its copy', async () => {
    const { app, events } = krakenApp(['new-secret', KRAKEN.secret]);
    expectAccepted(await postWebhook(app, KRAKEN.body, { signature: KRAKEN.signature }));
    expectAccepted(await postWebhook(app, KRAKEN.body, { signature: KRAKEN.signature }), true);
    expect(events).toEqual([
      expect.objectContaining({
        format: 'kraken',
        known: true,
        stale: false,
        data: { id: 'b5c5a2cd-643e-444b-9591-e7b25fec997d', status: 'rejected', note: 'Document expired' },
      }),
    ]);
  });

  it('refuses a tampered body, a wrong secret, a sha1= header and a malformed one', async () => {
    const { app, events } = krakenApp();
    const tampered = KRAKEN.body.replace('rejected', 'approved');
    expectWebhookError(await postWebhook(app, tampered, { signature: KRAKEN.signature }), 400, WebhookErrorCode.INVALID_SIGNATURE);
    expectWebhookError(await postWebhook(app, KRAKEN.body, { signature: signFractalWebhook(SECRET, KRAKEN.body, 'sha256') }), 400, WebhookErrorCode.INVALID_SIGNATURE);
    expectWebhookError(await postWebhook(app, KRAKEN.body, { signature: signFractalWebhook(KRAKEN.secret, KRAKEN.body) }), 400, WebhookErrorCode.UNSUPPORTED_SIGNATURE_ALGORITHM);
    expectWebhookError(await postWebhook(app, KRAKEN.body, { signature: `sha256=${KRAKEN.signature}` }), 400, WebhookErrorCode.MALFORMED_SIGNATURE);
    expectWebhookError(await postWebhook(app, KRAKEN.body, { signature: null }), 400, WebhookErrorCode.MISSING_SIGNATURE);
    expect(events).toHaveLength(0);
  });

  it('checks the shape after the signature: id and status are required, an unknown status passes as known: false, a non-string note is dropped', async () => {
    const { app, events } = krakenApp();
    const post = (body: string) => postWebhook(app, body, { signature: signFractalWebhook(KRAKEN.secret, body, 'sha256') });
    expectWebhookError(await post('{"status":"approved"}'), 422, WebhookErrorCode.INVALID_EVENT);
    expectWebhookError(await post('[1]'), 400, WebhookErrorCode.INVALID_PAYLOAD);
    expectWebhookError(await post('{"id":'), 400, WebhookErrorCode.INVALID_JSON);
    expectAccepted(await post('{"id":"u1","status":"expired","extra":1}'));
    expectAccepted(await post('{"id":"u2","status":"approved","note":null}'));
    expect(events.map((e) => [e.known, e.data])).toEqual([
      [false, { id: 'u1', status: 'expired', extra: 1 }],
      [true, { id: 'u2', status: 'approved' }],
    ]);
  });

  it('the format is never taken from the request: each endpoint refuses the other format', async () => {
    const kraken = krakenApp(SECRET);
    const classic = webhookApp({ secrets: SECRET });
    const classicBody = eventBody('email_changed', { user_id: 'u1', email: 'a@example.com' });
    // A Fractal ID-format delivery on the Kraken endpoint, and the reverse, with the right secret.
    expectWebhookError(await postWebhook(kraken.app, classicBody), 400, WebhookErrorCode.UNSUPPORTED_SIGNATURE_ALGORITHM);
    const krakenBody = '{"id":"u1","status":"approved"}';
    expectWebhookError(
      await postWebhook(classic.app, krakenBody, { signature: signFractalWebhook(SECRET, krakenBody, 'sha256') }),
      400,
      WebhookErrorCode.MALFORMED_SIGNATURE,
    );
    expect(kraken.events).toHaveLength(0);
    expect(classic.events).toHaveLength(0);
  });

  it('refuses per-type secrets and unknown formats at start-up', () => {
    expect(() => fractalWebhooks({ format: 'kraken', secrets: { '*': 's' } as never, onEvent: () => undefined })).toThrow(/Kraken has no per-type secrets/);
    expect(() => fractalWebhooks({ format: 'sha256' as never, secrets: 's', onEvent: () => undefined })).toThrow(/`format`/);
    expect(() => signFractalWebhook('s', 'b', 'md5' as never)).toThrow(/algorithm/);
  });
});
