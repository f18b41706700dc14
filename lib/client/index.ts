export { FractalClient } from './client';
export type { FractalClientOptions, FractalStatsApi, FractalUsersApi } from './client';
export { MemoryAppTokenCache, RedisAppTokenCache } from './token-cache';
export type { AppToken, AppTokenCache, CachedAppToken, RedisAppTokenCacheOptions } from './token-cache';
export { ResourceError, ResourceErrorCode } from './resource-error';
export type { ClientRetryOptions } from '../provider';
export type { CountryVerifications, StatusCounts, TotalVerifications, UserVerification, UserVerifications, VerificationStatus } from './types';
