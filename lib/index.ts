// The package's public surface. Each capability's door (`lib/<capability>/index.ts`) also serves the
// other capabilities; this file picks, by name, the values an app may use: those the README
// documents (test/public-surface.test.ts pins the list). Types are named too, so that an app can name
// what our functions take and return; an error class without a runtime export is exported as a type
// (narrow with `err.code`, the README says why), at no run-time cost.
export {
  ErrorCode,
  FractalError,
  isFractalError,
  ConfigurationError,
  ReauthenticationRequiredError,
  RefreshThrottledError,
  ERROR_TABLE,
} from './errors';
export type { AuthorizationError, InsufficientScopeError, ProviderError, StateError, StoreUnavailableError, TokenError } from './errors';
export { KYC_LEVELS, kycScopes, missingScopes, addonSupport } from './provider';
// Not in the README, but the example app (which uses only this entry) needs them.
export { normalizeScopes, parseScope, resolveDomains } from './provider';
export { resolveProviderConfig } from './provider';
export type { FractalProviderOptions, ResolvedProviderConfig, TokenEndpointAuthMethod } from './provider';
export type {
  KycLevel,
  KycAddon,
  AddonSupport,
  ParsedScope,
  KycScopesOptions,
  ValidateScopesOptions,
  ScopeDiff,
  FractalEnvironment,
  FractalDomains,
  DomainOptions,
  FractalProfile,
  FractalTokenResponse,
  FractalTokenSet,
  TokenResult,
  TokenClientOptions,
  FractalUser,
  FractalEmail,
  FractalPhone,
  FractalVerificationCase,
  FractalWallet,
  FractalWalletCurrency,
  FractalDetails,
  FractalCommonDetails,
  FractalPersonDetails,
  FractalInstitutionDetails,
  FetchUserOptions,
} from './provider';
export {
  FractalStrategy,
  SessionStateStore,
  MAX_PENDING_RETURN_TO,
  RedisConsumptionGuard,
  JourneyOptionError,
  OriginError,
  fractalEmbedScript,
  // Not in the README; test/package.test.ts holds it public (where the embed script is on disk).
  FRACTAL_EMBED_SCRIPT_PATH,
} from './strategy';
export type {
  WalletError,
  UsedStateError,
  MemoryConsumptionGuard,
  StateMeta,
  ConsumptionGuard,
  RedisConsumptionGuardOptions,
  FractalJourneyMethod,
  FractalJourneyCurrency,
  JourneyOptions,
  EmbeddedCallbackOptions,
  FractalAuthInfo,
  FractalAuthenticateOptions,
  FractalStateStore,
  FractalStrategyOptions,
  FractalStrategyOptionsBase,
  FractalStrategyOptionsWithRequest,
  FractalTokenParams,
  FractalVerify,
  FractalVerifyCallback,
  FractalVerifyWithRequest,
  PendingAuthorization,
  SessionStateStoreOptions,
} from './strategy';
export {
  fractalWebhooks,
  captureRawBody,
  verifyFractalWebhook,
  signFractalWebhook,
  newestWins,
  MemoryWebhookStore,
  RedisWebhookStore,
  WebhookSender,
  WebhookError,
  WebhookErrorCode,
  verifyKrakenWebhook,
  KRAKEN_WEBHOOK_STATUSES,
  DEFAULT_REPLAY_WINDOW_MS,
} from './webhooks';
export type { KrakenWebhooksOptions, WebhooksCommonOptions, KrakenWebhookData, KrakenWebhookEvent, KrakenWebhookStatus, VerifiedKrakenWebhook } from './webhooks';
export type {
  CredentialSharedWebhookData,
  DeliveryAttempt,
  DeliveryClaim,
  DeliveryResult,
  EmailChangedWebhookData,
  FractalWebhookDataMap,
  FractalWebhookEvent,
  FractalWebhookEventOf,
  FractalWebhookPayload,
  FractalWebhookType,
  FractalWebhooksMiddleware,
  FractalWebhooksOptions,
  IdempotencyStore,
  KnownFractalWebhookEvent,
  KnownFractalWebhookPayload,
  MemoryWebhookStoreOptions,
  OrderingResult,
  OrderingStore,
  RedisWebhookStoreOptions,
  UnknownFractalWebhookEvent,
  UnknownFractalWebhookPayload,
  VerificationWebhookData,
  VerifiedWebhook,
  WebhookDeliveryInfo,
  WebhookRetryOptions,
  WebhookSecret,
  WebhookSecretMap,
  WebhookSecrets,
  WebhookSenderOptions,
  WebhookStore,
  WebhookStoreTtlOptions,
} from './webhooks';
export { createFractalVault, generateEncryptionKey, MemoryTokenStore, RedisTokenStore, decideSignedIn } from './tokens';
export type { GuardDecider, GuardOutcome, VaultCheckResult, VaultCheckWarning } from './tokens';
export type {
  KeyringError,
  EncryptionKey,
  FractalRequestContext,
  FractalVault,
  FractalVaultOptions,
  Keyring,
  MemoryTokenStoreOptions,
  RedisTokenStoreOptions,
  RequireOptions,
  RetryOptions,
  StoredTokens,
  TokenStore,
  UserIdResolver,
} from './tokens';
export { FractalClient, MemoryAppTokenCache, RedisAppTokenCache, ResourceError } from './client';
export type {
  ResourceErrorCode,
  AppToken,
  AppTokenCache,
  CachedAppToken,
  ClientRetryOptions,
  CountryVerifications,
  FractalClientOptions,
  FractalStatsApi,
  FractalUsersApi,
  RedisAppTokenCacheOptions,
  StatusCounts,
  TotalVerifications,
  UserVerification,
  UserVerifications,
  VerificationStatus,
} from './client';
export { kycStatus, parseKycRequirement, createFractalKyc, MemoryKycCache, RedisKycCache } from './kyc';
export type {
  KycStatus,
  KycDecision,
  KycItemDecision,
  KycCaseSummary,
  KycSource,
  KycStatusOptions,
  KycRequirement,
  KycRequirementInput,
  KycCache,
  KycCacheEntry,
  KycCacheRead,
  KycCacheOptions,
  MemoryKycCacheOptions,
  RedisKycCacheOptions,
  FractalKyc,
  FractalKycOptions,
} from './kyc';
export type { IORedisClient } from './redis';
export { createFractal } from './fractal';
export type { Fractal, CreateFractalOptions, FractalSignIn, FractalRedisClient } from './fractal';
export { FRACTAL_CHANNELS } from './diagnostics';
export type {
  FractalChannelName,
  FractalChannelMessages,
  SignInMessage,
  RefreshStartMessage,
  RefreshEndMessage,
  RefreshFailureMessage,
  ReauthenticationMessage,
  StoreUnavailableMessage,
  WebhookMessage,
  AppTokenMessage,
} from './diagnostics';
