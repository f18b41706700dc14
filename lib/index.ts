export * from './errors';
export * from './scopes';
export * from './environments';
export { FractalStrategy } from './strategy';
export type {
  FractalStrategyOptions,
  FractalStrategyOptionsWithRequest,
  FractalStrategyOptionsBase,
  FractalAuthenticateOptions,
  FractalAuthInfo,
} from './strategy';
export type { FractalTokenParams, FractalVerify, FractalVerifyWithRequest, FractalVerifyCallback } from './verify';
export type { FractalProfile } from './profile';
export { toFractalProfile } from './profile';
export { TokenClient } from './token-client';
export type { FractalTokenResponse, FractalTokenSet, TokenResult, TokenClientOptions } from './token-client';
export { fetchFractalUser, parseFractalUser } from './user-info';
export type {
  FractalUser,
  FractalEmail,
  FractalPhone,
  FractalVerificationCase,
  FractalWallet,
  FractalWalletCurrency,
  FetchUserOptions,
} from './user-info';
export { SessionStateStore } from './state/session-store';
export type { FractalStateStore, PendingAuthorization, SessionStateStoreOptions } from './state/session-store';
export { safeReturnTo } from './return-to';
export { validateWallet, WalletError, MAX_WALLET_LENGTH } from './wallet';
export * from './webhooks';
export * from './tokens';
export * from './client';
