/**
 * The notifications Fractal ID sends, as typed events.
 *
 * Known types are checked against the documented `data` shapes; fields the docs do not list are
 * kept (pass-through, never an error). Types the docs do not list are handed over as
 * {@link UnknownFractalWebhookEvent} (`known: false`), so a new provider type never breaks an app.
 *
 * Source: Fractal ID's integration docs, `user-integration/webhooks/available-types.md` and
 * `user-integration/webhooks/delivery.md`.
 */

/** The documented notification types. */
export const FRACTAL_WEBHOOK_TYPES = [
  'verification_approved',
  'verification_rejected',
  'verification_contacted',
  'credential_shared',
  'email_changed',
] as const;

export type FractalWebhookType = (typeof FRACTAL_WEBHOOK_TYPES)[number];

/** `data` of `verification_approved`, `verification_rejected` and `verification_contacted`. */
export interface VerificationWebhookData {
  /** KYC level or add-on, e.g. `basic`, `plus`, `liveness`. */
  level: string;
  user_id: string;
  /** ISO 8601 time of the change. Compare it, never the arrival order. */
  timestamp: string;
}

/** `data` of `credential_shared`. */
export interface CredentialSharedWebhookData {
  idos_human_id: string;
  credential_id: string;
  /** ISO 8601. */
  shared_at: string;
}

/** `data` of `email_changed`. The provider sends no timestamp with it. */
export interface EmailChangedWebhookData {
  user_id: string;
  email: string;
}

export interface FractalWebhookDataMap {
  verification_approved: VerificationWebhookData;
  verification_rejected: VerificationWebhookData;
  verification_contacted: VerificationWebhookData;
  credential_shared: CredentialSharedWebhookData;
  email_changed: EmailChangedWebhookData;
}

/** What goes over the wire for a documented type (the JSON body). */
export type KnownFractalWebhookPayload = {
  [T in FractalWebhookType]: { type: T; data: FractalWebhookDataMap[T] };
}[FractalWebhookType];

/** What goes over the wire for any other type. */
export interface UnknownFractalWebhookPayload {
  type: string;
  data?: unknown;
}

/** A webhook body, as {@link signFractalWebhook} and `WebhookSender` take it. */
export type FractalWebhookPayload = KnownFractalWebhookPayload | UnknownFractalWebhookPayload;

/** What the middleware adds to every event it hands to `onEvent`. */
export interface WebhookDeliveryInfo {
  /**
   * Hex SHA-256 of the raw body: the provider sends no delivery id, and a retry repeats the exact
   * bytes. Also the idempotency key.
   */
  readonly deliveryId: string;
  /**
   * True when a newer event for the same user and level was already seen (verification events
   * only; always false for the other types, which carry no comparable timestamp per user and
   * level). Do not let a stale event overwrite newer state.
   */
  readonly stale: boolean;
  /** When this delivery reached the middleware. */
  readonly receivedAt: Date;
}

/** A documented event. `known: true` narrows `type` to the documented names. */
export type KnownFractalWebhookEvent = {
  [T in FractalWebhookType]: WebhookDeliveryInfo & { readonly type: T; readonly known: true; readonly data: FractalWebhookDataMap[T] };
}[FractalWebhookType];

/**
 * An event of a type this version does not know. Passed through so that a new provider type does
 * not break the app; log it or ignore it.
 */
export interface UnknownFractalWebhookEvent extends WebhookDeliveryInfo {
  readonly type: string;
  readonly known: false;
  /** Whatever the provider sent (`undefined` if the body had no `data`). */
  readonly data: unknown;
}

/**
 * What `onEvent` receives. Check `known` first, then switch on `type`: TypeScript cannot narrow a
 * union on `type` alone while one member's `type` is any string, so `known` is the discriminant
 * that separates documented events (typed `data`) from pass-through ones (`data: unknown`).
 *
 * @example
 * if (!event.known) return log.info('new Fractal ID webhook type', event.type);
 * switch (event.type) {
 *   case 'verification_approved': if (!event.stale) await approve(event.data.user_id, event.data.level); break;
 *   // ...
 * }
 */
export type FractalWebhookEvent = KnownFractalWebhookEvent | UnknownFractalWebhookEvent;

export type FractalWebhookEventOf<T extends FractalWebhookType> = Extract<KnownFractalWebhookEvent, { type: T }>;

/** Verification events: the ones ordered per user and level. */
export const VERIFICATION_WEBHOOK_TYPES: readonly FractalWebhookType[] = [
  'verification_approved',
  'verification_rejected',
  'verification_contacted',
];

export function isFractalWebhookType(type: string): type is FractalWebhookType {
  return (FRACTAL_WEBHOOK_TYPES as readonly string[]).includes(type);
}

/**
 * The outcome of checking a parsed body; `reason` is safe to send back (it names fields only).
 * `signedAtMs` is the signed time of a documented event (its `TIME_FIELD`), parsed once here.
 */
export type PayloadCheck =
  | { ok: true; payload: FractalWebhookPayload; known: boolean; signedAtMs?: number }
  | { ok: false; kind: 'payload' | 'event'; reason: string };

/**
 * Checks a parsed JSON body: an object with a string `type`; for documented types, `data` must have
 * the documented fields with the documented types (extra fields are kept).
 */
export function checkPayload(value: unknown): PayloadCheck {
  if (!isRecord(value)) return { ok: false, kind: 'payload', reason: 'The body must be a JSON object' };
  const type = value.type;
  if (typeof type !== 'string' || type.length === 0) {
    return { ok: false, kind: 'payload', reason: 'The body must have a non-empty string `type`' };
  }
  // A Map, not an object: a `type` such as "constructor" must not find a prototype's property.
  const shape = SHAPES.get(type);
  if (shape === undefined) return { ok: true, payload: { type, data: value.data }, known: false };
  const data = value.data;
  if (!isRecord(data)) return { ok: false, kind: 'event', reason: `\`data\` of ${type} must be an object` };
  for (const field of shape.required) {
    if (typeof data[field] !== 'string') {
      const missing = shape.required.filter((name) => typeof data[name] !== 'string');
      return { ok: false, kind: 'event', reason: `\`data\` of ${type} needs string fields: ${missing.join(', ')}` };
    }
  }
  const payload = { type, data } as unknown as KnownFractalWebhookPayload;
  if (shape.timeField === undefined) return { ok: true, payload, known: true };
  const signedAtMs = Date.parse(data[shape.timeField] as string);
  if (Number.isNaN(signedAtMs)) {
    return { ok: false, kind: 'event', reason: `\`data.${shape.timeField}\` of ${type} must be an ISO 8601 date-time` };
  }
  // The fields were checked above; the cast only tells TypeScript which shape they form.
  return { ok: true, payload, known: true, signedAtMs };
}

const REQUIRED_FIELDS: Record<FractalWebhookType, readonly string[]> = {
  verification_approved: ['level', 'user_id', 'timestamp'],
  verification_rejected: ['level', 'user_id', 'timestamp'],
  verification_contacted: ['level', 'user_id', 'timestamp'],
  credential_shared: ['idos_human_id', 'credential_id', 'shared_at'],
  email_changed: ['user_id', 'email'],
};

/**
 * The field holding the signed time of a documented event (`timestamp`, or `shared_at` of
 * `credential_shared`), for the replay window; none for `email_changed` (the provider sends no time
 * with it). Unknown types have no documented time field to trust.
 */
const TIME_FIELD: Record<FractalWebhookType, string | undefined> = {
  verification_approved: 'timestamp',
  verification_rejected: 'timestamp',
  verification_contacted: 'timestamp',
  credential_shared: 'shared_at',
  email_changed: undefined,
};

/** What {@link checkPayload} checks per documented type, looked up once per delivery. */
const SHAPES = new Map<string, { required: readonly string[]; timeField: string | undefined }>(
  FRACTAL_WEBHOOK_TYPES.map((type) => [type, { required: REQUIRED_FIELDS[type], timeField: TIME_FIELD[type] }]),
);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
