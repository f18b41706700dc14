/**
 * Fractal ID webhooks: verified (HMAC-SHA1 over the raw bytes), typed, idempotent and ordered, as
 * Express middleware, and Kraken-format ones (HMAC-SHA256); plus a sender that delivers like the
 * provider (used by the sandbox).
 */
export { fractalWebhooks } from './middleware';
export type { FractalWebhooksOptions, KrakenWebhooksOptions, WebhooksCommonOptions, FractalWebhooksMiddleware } from './middleware';
export { KRAKEN_WEBHOOK_STATUSES, verifyKrakenWebhook } from './kraken';
export type { KrakenWebhookData, KrakenWebhookEvent, KrakenWebhookStatus, VerifiedKrakenWebhook } from './kraken';
export { WebhookError, WebhookErrorCode } from './errors';
export {
  FRACTAL_WEBHOOK_TYPES,
  VERIFICATION_WEBHOOK_TYPES,
  isFractalWebhookType,
} from './events';
export type {
  FractalWebhookType,
  FractalWebhookEvent,
  FractalWebhookEventOf,
  KnownFractalWebhookEvent,
  UnknownFractalWebhookEvent,
  WebhookDeliveryInfo,
  FractalWebhookPayload,
  KnownFractalWebhookPayload,
  UnknownFractalWebhookPayload,
  FractalWebhookDataMap,
  VerificationWebhookData,
  CredentialSharedWebhookData,
  EmailChangedWebhookData,
} from './events';
export { signFractalWebhook, FRACTAL_SIGNATURE_HEADER } from './signature';
export type { WebhookSecret, WebhookSecrets, WebhookSecretMap, WebhookSignatureAlgorithm } from './signature';
export { verifyFractalWebhook } from './verify';
export type { VerifiedWebhook } from './verify';
export { captureRawBody, RAW_BODY } from './raw-body';
export { MemoryWebhookStore, PROVIDER_RETRY_HORIZON_MS, DEFAULT_REPLAY_WINDOW_MS } from './store';
export type {
  WebhookStore,
  IdempotencyStore,
  OrderingStore,
  DeliveryClaim,
  OrderedDeliveryClaim,
  WebhookStoreTtlOptions,
  MemoryWebhookStoreOptions,
} from './store';
export { RedisWebhookStore } from './redis-store';
export type { RedisWebhookStoreOptions } from './redis-store';
export { newestWins, orderingOf } from './ordering';
export type { OrderingResult } from './ordering';
export { WebhookSender } from './sender';
export type { WebhookSenderOptions, WebhookRetryOptions, DeliveryAttempt, DeliveryResult } from './sender';
