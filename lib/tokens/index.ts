import './types';

export type { FractalRequestContext } from './types';
export type { StoredTokens, TokenStore } from './store';
export { MemoryTokenStore, type MemoryTokenStoreOptions } from './memory-store';
export { DEFAULT_TOKEN_CACHE_TTL_MS, RedisTokenStore, type RedisTokenStoreOptions } from './redis-store';
export { createKeyring, generateEncryptionKey, KeyringError, type EncryptionKey, type Keyring } from './keyring';
export type { RetryOptions } from '../provider';
export { AUTHENTICATION_REQUIRED, decideSignedIn, decideSignedInNow, guard, requireScopes, type GuardDecider, type GuardSettings, type RequireOptions } from './guard';
export { outcomeForError, respondToOutcome, wantsHtml, type GuardOutcome, type ResponderSettings } from './responder';
export { defaultUserId, tokenSetNow, type UserIdResolver } from './middleware';
export { createFractalVault, type FractalVault, type FractalVaultOptions } from './vault';
export type { VaultCheckCode, VaultCheckResult, VaultCheckWarning } from './check';
