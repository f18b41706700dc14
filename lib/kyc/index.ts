/**
 * KYC decisions: "is this user approved at level X?" from their verification cases, a guard for
 * Express routes, and a per-user cache that verification webhooks invalidate. The only door into
 * `lib/kyc/`.
 */
export { kycStatus, readCases } from './status';
export type { KycStatus, KycDecision, KycItemDecision, KycCaseSummary, KycSource, KycStatusOptions } from './status';
export { parseKycRequirement } from './requirement';
export type { KycRequirement, KycRequirementInput } from './requirement';
export { MemoryKycCache, DEFAULT_KYC_TTL_MS } from './cache';
export type { KycCache, KycCacheEntry, KycCacheRead, KycCacheOptions, MemoryKycCacheOptions } from './cache';
export { RedisKycCache } from './redis-cache';
export type { RedisKycCacheOptions } from './redis-cache';
export { createFractalKyc } from './kyc';
export type { FractalKyc, FractalKycOptions } from './kyc';
