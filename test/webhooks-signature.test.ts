import {
  FRACTAL_WEBHOOK_TYPES,
  signFractalWebhook,
  verifyFractalWebhook,
  WebhookErrorCode,
  type FractalWebhookEvent,
  type VerifiedWebhook,
} from '../lib/webhooks';
import { eventBody, VECTOR_1, VECTOR_2 } from './helpers/webhooks';

function codeOf(run: () => unknown): { code?: string; status?: number; message?: string } {
  try {
    run();
  } catch (err) {
    const e = err as { code?: string; status?: number; message?: string };
    return { code: e.code, status: e.status, message: e.message };
  }
  return {};
}

describe('signFractalWebhook', () => {
  it('gives the provider known-answer signature for "my-payload"', () => {
    expect(signFractalWebhook(VECTOR_1.secret, VECTOR_1.body)).toBe(`sha1=${VECTOR_1.hex}`);
    expect(signFractalWebhook(VECTOR_1.secret, Buffer.from(VECTOR_1.body))).toBe(`sha1=${VECTOR_1.hex}`);
  });

  it('gives the provider known-answer signature for the verification_approved body', () => {
    expect(signFractalWebhook(VECTOR_2.secret, VECTOR_2.body)).toBe(VECTOR_2.signature);
  });

  it('refuses an empty secret instead of signing with it', () => {
    expect(codeOf(() => signFractalWebhook('', 'x')).code).toBe('configuration_error');
  });
});

describe('verifyFractalWebhook (without Express)', () => {
  const body = Buffer.from(VECTOR_2.body);

  it('accepts the known-answer delivery and types it', () => {
    const verified: VerifiedWebhook = verifyFractalWebhook(body, VECTOR_2.signature, { verification_approved: VECTOR_2.secret });
    expect(verified.known).toBe(true);
    expect(verified.payload).toEqual(JSON.parse(VECTOR_2.body));
    expect(verified.deliveryId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts upper-case hex (same bytes, compared in constant time)', () => {
    const upper = `sha1=${VECTOR_2.signature.slice(5).toUpperCase()}`;
    expect(verifyFractalWebhook(body, upper, VECTOR_2.secret).known).toBe(true);
  });

  it('refuses sha256= by name', () => {
    const result = codeOf(() => verifyFractalWebhook(body, `sha256=${'a'.repeat(64)}`, VECTOR_2.secret));
    expect(result).toMatchObject({ code: WebhookErrorCode.UNSUPPORTED_SIGNATURE_ALGORITHM, status: 400 });
  });

  it.each([
    ['no prefix', VECTOR_2.signature.slice(5)],
    ['39 hex digits', VECTOR_2.signature.slice(0, -1)],
    ['41 hex digits', `${VECTOR_2.signature}0`],
    ['non-hex digits', `sha1=${'g'.repeat(40)}`],
    ['an empty digest', 'sha1='],
    ['garbage', '=== not a signature ==='],
  ])('refuses a malformed header (%s)', (_label, header) => {
    expect(codeOf(() => verifyFractalWebhook(body, header, VECTOR_2.secret)).code).toBe(WebhookErrorCode.MALFORMED_SIGNATURE);
  });

  it('refuses a header sent twice', () => {
    const twice = [VECTOR_2.signature, VECTOR_2.signature];
    expect(codeOf(() => verifyFractalWebhook(body, twice, VECTOR_2.secret)).code).toBe(WebhookErrorCode.MALFORMED_SIGNATURE);
  });

  it('says which type\'s secret signed a body claiming another type, in the message only', () => {
    const secrets = { verification_approved: 'approved-secret', email_changed: 'email-secret' };
    const result = codeOf(() => verifyFractalWebhook(body, signFractalWebhook('email-secret', body), secrets));
    expect(result.code).toBe(WebhookErrorCode.INVALID_SIGNATURE);
    expect(result.message).toContain('email_changed');
    expect(result.message).not.toContain('email-secret');
  });

  it('never parses a body whose signature is wrong', () => {
    const parse = jest.spyOn(JSON, 'parse');
    try {
      expect(codeOf(() => verifyFractalWebhook(body, `sha1=${'0'.repeat(40)}`, VECTOR_2.secret)).code).toBe(WebhookErrorCode.INVALID_SIGNATURE);
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
  });

  it('refuses secrets given in an unusable shape, without quoting them', () => {
    for (const secrets of ['', [], [''], {}, { email_changed: '' }, 42, null]) {
      const result = codeOf(() => verifyFractalWebhook(body, VECTOR_2.signature, secrets as never));
      expect(result.code).toBe('configuration_error');
    }
  });

  it('keeps undocumented fields of a documented event (pass-through)', () => {
    const withExtra = eventBody('email_changed', { user_id: 'u', email: 'a@example.com', locale: 'de' });
    const verified = verifyFractalWebhook(Buffer.from(withExtra), signFractalWebhook('s', withExtra), 's');
    expect(verified.payload.data).toEqual({ user_id: 'u', email: 'a@example.com', locale: 'de' });
  });
});

describe('event types', () => {
  it('lists the five documented types', () => {
    expect([...FRACTAL_WEBHOOK_TYPES].sort()).toEqual(
      ['credential_shared', 'email_changed', 'verification_approved', 'verification_contacted', 'verification_rejected'],
    );
  });

  it('narrows on known + type (compile-time check)', () => {
    // This function only has to type-check: `tsc` fails if narrowing stops working.
    const describeEvent = (event: FractalWebhookEvent): string => {
      if (!event.known) return `unknown ${event.type}`;
      switch (event.type) {
        case 'verification_approved':
        case 'verification_rejected':
        case 'verification_contacted':
          return `${event.data.user_id} ${event.data.level} ${event.data.timestamp}`;
        case 'credential_shared':
          return `${event.data.idos_human_id} ${event.data.credential_id} ${event.data.shared_at}`;
        case 'email_changed':
          return `${event.data.user_id} ${event.data.email}`;
        default: {
          const exhaustive: never = event;
          return exhaustive;
        }
      }
    };
    const base = { deliveryId: 'd', stale: false, receivedAt: new Date() };
    expect(describeEvent({ ...base, known: true, type: 'email_changed', data: { user_id: 'u', email: 'e' } })).toBe('u e');
    expect(describeEvent({ ...base, known: false, type: 'kyc_expired', data: 1 })).toBe('unknown kyc_expired');
  });
});
