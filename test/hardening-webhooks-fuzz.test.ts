import { createHash, createHmac } from 'node:crypto';
import express from 'express';
import fc from 'fast-check';
import { fractalWebhooks, verifyFractalWebhook, WebhookError, type WebhookSecretMap } from '../lib/webhooks';
import { fuzzParameters } from './helpers/fuzz';
import { listen } from './helpers/webhooks';

/**
 * Hostile webhook deliveries: any bytes (events, JSON of any shape, garbage, unicode) with any
 * X-Fractal-Signature (absent, random, sha256=, truncated, a valid signature of other bytes, of these
 * bytes with another type's secret, of these bytes with the right one). An event reaches the app
 * only when the header is the exact HMAC-SHA1 of those bytes with a secret of the body's own type,
 * every refusal is a typed 4xx, and nothing is left as an unhandled rejection.
 *
 * The oracle below recomputes HMACs with node:crypto, independently of lib/webhooks.
 */

// One secret per type, a rotation pair for one type, and '*' for every other type.
const SECRETS = {
  verification_approved: ['approved-new-secret', 'approved-old-secret'],
  verification_rejected: 'rejected-secret',
  verification_contacted: 'contacted-secret',
  credential_shared: 'credential-secret',
  email_changed: 'email-secret',
  '*': 'fallback-secret',
} as const satisfies WebhookSecretMap;
const ALL_SECRETS = [...new Set(Object.values(SECRETS).flat())];
const KNOWN_TYPES = ['verification_approved', 'verification_rejected', 'verification_contacted', 'credential_shared', 'email_changed'];

/** Documented 4xx refusals of the README "Answers" table that a delivery can earn by its bytes and header. */
const REFUSALS = new Set([
  'missing_signature',
  'malformed_signature',
  'unsupported_signature_algorithm',
  'invalid_signature',
  'invalid_json',
  'invalid_payload',
  'invalid_event',
]);
/** The refusals possible when the signature is not authentic: nothing about the body may be revealed. */
const SIGNATURE_REFUSALS = new Set(['missing_signature', 'malformed_signature', 'unsupported_signature_algorithm', 'invalid_signature']);

function secretsOfType(type: unknown): readonly string[] {
  const entry = typeof type === 'string' && Object.prototype.hasOwnProperty.call(SECRETS, type) ? SECRETS[type as keyof typeof SECRETS] : SECRETS['*'];
  return typeof entry === 'string' ? [entry] : entry;
}

/** The body's `type` if the bytes are JSON with a string `type` (what the verifier may trust after the HMAC). */
function claimedType(bytes: Uint8Array): string | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
    const type = (parsed as { type?: unknown } | null)?.type;
    return typeof type === 'string' ? type : undefined;
  } catch {
    return undefined;
  }
}

function hmacHex(secret: string, bytes: Uint8Array): string {
  return createHmac('sha1', secret).update(bytes).digest('hex');
}

/** The lower-case digest of a header in the documented form `sha1=<40 hex>` (case-insensitive), else undefined. */
function digestOf(header: string | readonly string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header) && header.length !== 1) return undefined;
  const value = (typeof header === 'string' ? header : header[0]!).trim();
  return /^sha1=([0-9a-f]{40})$/i.exec(value)?.[1]?.toLowerCase();
}

/** True when the header is the HMAC of `bytes` under ANY configured secret (not necessarily the body's type's). */
function signedByAnySecret(bytes: Uint8Array, header: string | readonly string[] | undefined): boolean {
  const digest = digestOf(header);
  return digest !== undefined && ALL_SECRETS.some((secret) => hmacHex(secret, bytes) === digest);
}

/** True when the header is `sha1=` + the exact HMAC-SHA1 of `bytes` under a secret of the body's type. */
function isAuthentic(bytes: Uint8Array, header: string | readonly string[] | undefined): boolean {
  const digest = digestOf(header);
  if (digest === undefined) return false;
  return secretsOfType(claimedType(bytes)).some((secret) => hmacHex(secret, bytes) === digest);
}

// ---- bodies ---------------------------------------------------------------------------------

const text = fc.string({ maxLength: 30 });
const timestamp = fc.date({ min: new Date('2019-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }).map((d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z'));
const documentedEvent = fc.oneof(
  fc.record({
    type: fc.constantFrom('verification_approved', 'verification_rejected', 'verification_contacted'),
    data: fc.record({ level: fc.constantFrom('basic', 'plus', 'wallet'), user_id: fc.uuid(), timestamp }),
  }),
  fc.record({ type: fc.constant('credential_shared'), data: fc.record({ idos_human_id: fc.uuid(), credential_id: fc.uuid(), shared_at: timestamp }) }),
  fc.record({ type: fc.constant('email_changed'), data: fc.record({ user_id: fc.uuid(), email: fc.emailAddress() }) }),
);
const eventWithExtras = fc
  .tuple(documentedEvent, fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }))
  .map(([event, extra]) => ({ ...extra, ...event, data: { ...extra, ...event.data } }));
const oddEvent = fc.record(
  {
    type: fc.oneof(fc.constantFrom(...KNOWN_TYPES), text, fc.integer(), fc.constant(null)),
    data: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.dictionary(fc.constantFrom('level', 'user_id', 'timestamp', 'email', 'credential_id', 'idos_human_id', 'shared_at'), fc.jsonValue({ maxDepth: 1 }))),
  },
  { requiredKeys: [] },
);
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const body: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: eventWithExtras.map((e) => utf8(JSON.stringify(e))) },
  { weight: 3, arbitrary: oddEvent.map((e) => utf8(JSON.stringify(e))) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 3 }).map(utf8) },
  { weight: 1, arbitrary: eventWithExtras.map((e) => utf8(JSON.stringify(e)).slice(0, -1)) }, // truncated
  { weight: 1, arbitrary: eventWithExtras.map((e) => utf8(` ${JSON.stringify(e, null, 2)}\n`)) }, // same event, other bytes
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 60 }).map(utf8) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 200 }) },
);

// ---- signature headers ----------------------------------------------------------------------

type HeaderPlan =
  | { kind: 'none' }
  | { kind: 'random'; value: string }
  | { kind: 'right'; secretIndex: number; upper: boolean; pad: boolean }
  | { kind: 'sha256-right' }
  | { kind: 'truncated'; keep: number }
  | { kind: 'extended' }
  | { kind: 'other-body'; other: Uint8Array }
  | { kind: 'other-type'; secretIndex: number }
  | { kind: 'random-sha1'; hex: string }
  | { kind: 'twice' };

const headerPlan: fc.Arbitrary<HeaderPlan> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 2, arbitrary: fc.oneof(fc.string({ maxLength: 60 }), fc.stringMatching(/^[a-zA-Z0-9]{0,8}=[0-9a-fA-Fx ]{0,50}$/)).map((value) => ({ kind: 'random' as const, value })) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('right' as const), secretIndex: fc.nat(), upper: fc.boolean(), pad: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'sha256-right' as const }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 39 }).map((keep) => ({ kind: 'truncated' as const, keep })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'extended' as const }) },
  { weight: 2, arbitrary: body.map((other) => ({ kind: 'other-body' as const, other })) },
  { weight: 3, arbitrary: fc.nat().map((secretIndex) => ({ kind: 'other-type' as const, secretIndex })) },
  { weight: 1, arbitrary: fc.stringMatching(/^[0-9a-f]{40}$/).map((hex) => ({ kind: 'random-sha1' as const, hex })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'twice' as const }) },
);

function headerFor(plan: HeaderPlan, bytes: Uint8Array): string | string[] | undefined {
  const right = secretsOfType(claimedType(bytes));
  switch (plan.kind) {
    case 'none':
      return undefined;
    case 'random':
      return plan.value;
    case 'right': {
      const hex = hmacHex(right[plan.secretIndex % right.length]!, bytes);
      const value = `sha1=${plan.upper ? hex.toUpperCase() : hex}`;
      return plan.pad ? ` ${value} ` : value;
    }
    case 'sha256-right':
      return `sha256=${createHmac('sha256', right[0]!).update(bytes).digest('hex')}`;
    case 'truncated':
      return `sha1=${hmacHex(right[0]!, bytes).slice(0, plan.keep)}`;
    case 'extended':
      return `sha1=${hmacHex(right[0]!, bytes)}00`;
    case 'other-body':
      return `sha1=${hmacHex(right[0]!, plan.other)}`;
    case 'other-type': {
      const others = ALL_SECRETS.filter((s) => !right.includes(s));
      return `sha1=${hmacHex(others[plan.secretIndex % others.length]!, bytes)}`;
    }
    case 'random-sha1':
      return `sha1=${plan.hex}`;
    case 'twice': {
      const valid = `sha1=${hmacHex(right[0]!, bytes)}`;
      return [valid, valid];
    }
  }
}

const delivery = fc.tuple(body, headerPlan).map(([bytes, plan]) => ({ bytes, plan, header: headerFor(plan, bytes) }));

// ---- properties -----------------------------------------------------------------------------

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => process.on('unhandledRejection', onUnhandled));
afterAll(() => process.off('unhandledRejection', onUnhandled));
afterEach(() => expect(unhandled).toEqual([]));

describe('verifyFractalWebhook under hostile bodies and signature headers', () => {
  it('accepts a delivery only when the header is the exact HMAC of its bytes with its own type\'s secret, and refuses everything else with a typed 4xx', () => {
    let accepted = 0;
    fc.assert(
      fc.property(delivery, ({ bytes, header }) => {
        const authentic = isAuthentic(bytes, header);
        let outcome: { ok: true; type: string; deliveryId: string } | { ok: false; err: unknown };
        try {
          const verified = verifyFractalWebhook(bytes, header, SECRETS);
          outcome = { ok: true, type: verified.payload.type, deliveryId: verified.deliveryId };
        } catch (err) {
          outcome = { ok: false, err };
        }
        if (outcome.ok) {
          accepted++;
          expect(authentic).toBe(true);
          expect(outcome.type).toBe(claimedType(bytes));
          expect(outcome.deliveryId).toBe(createHash('sha256').update(bytes).digest('hex'));
          return;
        }
        const err = outcome.err;
        expect(err).toBeInstanceOf(WebhookError);
        const { code, status, message } = err as WebhookError;
        expect(REFUSALS.has(code)).toBe(true);
        expect(status).toBeGreaterThanOrEqual(400);
        expect(status).toBeLessThan(500);
        // Bytes no configured secret signed are refused on the signature alone: never a body-shape answer.
        if (!signedByAnySecret(bytes, header)) expect(SIGNATURE_REFUSALS.has(code)).toBe(true);
        // A body with a non-empty type, signed with another type's secret, is a signature failure, not a shape one.
        if (!authentic && signedByAnySecret(bytes, header) && claimedType(bytes)) expect(code).toBe('invalid_signature');
        // An authentic delivery is refused only for its shape, never for its signature.
        if (authentic) expect(SIGNATURE_REFUSALS.has(code)).toBe(false);
        for (const secret of ALL_SECRETS) expect(message).not.toContain(secret);
      }),
      fuzzParameters(),
    );
    // The generators must really reach the accepting branch, or the property proves little.
    expect(accepted).toBeGreaterThan(500);
  });
});

describe('fractalWebhooks over HTTP under hostile deliveries', () => {
  const HTTP_RUNS = Math.min(1_000, Number(process.env.FUZZ_RUNS ?? 1_000));
  const seen = new Map<string, boolean>(); // deliveryId -> authentic per the oracle
  const handled: string[] = [];
  const reported: WebhookError[] = [];
  let server: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    const app = express();
    app.post(
      '/webhooks/fractal',
      fractalWebhooks({
        secrets: SECRETS,
        // Timestamps are drawn from 2019-2030: the replay window is tested in webhooks-replay.test.ts.
        replayWindowMs: false,
        onEvent: (event) => {
          handled.push(event.deliveryId);
        },
        onError: (err) => reported.push(err),
      }),
    );
    server = await listen(app);
  });
  afterAll(() => server.close());

  // fetch refuses header values with control or non-Latin-1 characters: those never reach a server.
  const sendable = delivery.filter(({ header }) => {
    const values = header === undefined ? [] : typeof header === 'string' ? [header] : header;
    return values.every((v) => /^[\x20-\x7e]*$/.test(v));
  });

  it('calls onEvent only for authentic deliveries, at most once each, and never answers 5xx', async () => {
    let answered2xx = 0;
    await fc.assert(
      fc.asyncProperty(sendable, fc.boolean(), async ({ bytes, header }, wrongMediaType) => {
        const authentic = isAuthentic(bytes, header);
        const id = createHash('sha256').update(bytes).digest('hex');
        const firstTime = !seen.has(id);
        seen.set(id, authentic || seen.get(id) === true);
        const headers = new Headers({ 'content-type': wrongMediaType ? 'text/plain' : 'application/json' });
        if (typeof header === 'string') headers.set('x-fractal-signature', header);
        else if (header) for (const value of header) headers.append('x-fractal-signature', value);
        const before = handled.length;
        const res = await fetch(server.url, { method: 'POST', headers, body: Buffer.from(bytes) });
        const json = (await res.json()) as { error?: string; received?: boolean; duplicate?: boolean };
        expect(res.status).toBeLessThan(500);
        const calls = handled.slice(before);
        if (res.status === 200) {
          answered2xx++;
          expect(authentic && !wrongMediaType).toBe(true);
          expect(calls).toEqual(json.duplicate ? [] : [id]);
          if (firstTime) expect(json.duplicate).toBeUndefined();
        } else {
          expect(calls).toEqual([]);
          expect(wrongMediaType ? 'unsupported_media_type' : REFUSALS.has(json.error ?? '') && json.error).toBe(json.error);
          if (!signedByAnySecret(bytes, header) && !wrongMediaType) expect(SIGNATURE_REFUSALS.has(json.error ?? '')).toBe(true);
        }
      }),
      fuzzParameters({ numRuns: HTTP_RUNS }),
    );
    expect(answered2xx).toBeGreaterThan(HTTP_RUNS / 20);
    // Every delivery handed to the app was authentic, and none twice.
    expect(handled.every((id) => seen.get(id) === true)).toBe(true);
    expect(new Set(handled).size).toBe(handled.length);
    expect(reported.every((err) => err.status < 500)).toBe(true);
  });
});
