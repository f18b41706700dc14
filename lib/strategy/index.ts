/**
 * The Passport strategy and what the sign-in leg needs: pending-authorization state, the callback
 * query reader, `returnTo` and wallet checks, the verify signatures. The only door into `lib/strategy/`.
 */
export { FractalStrategy, MAX_PENDING_RETURN_TO } from './strategy';
export type {
  FractalStrategyOptions,
  FractalStrategyOptionsWithRequest,
  FractalStrategyOptionsBase,
  FractalAuthenticateOptions,
  FractalAuthInfo,
} from './strategy';
export type { FractalTokenParams, FractalVerify, FractalVerifyWithRequest, FractalVerifyCallback } from './verify';
export { SessionStateStore, UsedStateError } from './session-store';
export type { FractalStateStore, PendingAuthorization, SessionStateStoreOptions, StateMeta } from './session-store';
export { MemoryConsumptionGuard, RedisConsumptionGuard } from './consumption-guard';
export type { ConsumptionGuard, RedisConsumptionGuardOptions } from './consumption-guard';
export { safeReturnTo } from './return-to';
export { validateWallet, WalletError, MAX_WALLET_LENGTH } from './wallet';
export { JOURNEY_METHODS, JOURNEY_CURRENCIES, JourneyOptionError } from './journey-params';
export type { FractalJourneyMethod, FractalJourneyCurrency, JourneyOptions } from './journey-params';
export { OriginError, MAX_CALLBACK_BODY_BYTES } from './form-post';
export type { EmbeddedCallbackOptions } from './form-post';
export { fractalEmbedScript, FRACTAL_EMBED_SCRIPT_PATH } from './embed-script';
