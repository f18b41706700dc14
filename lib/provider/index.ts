/**
 * The provider's API surface, as the rest of the library sees it: origins per environment, scopes,
 * HTTP with timeouts, retry, the token endpoint, the `/v2/users/me` reader and the profile built
 * from it. The only door into `lib/provider/`: other capabilities import from here.
 */
export * from './environments';
export * from './scopes';
export * from './http';
export * from './retry';
export * from './token-client';
export * from './config';
export * from './user-info';
export * from './details';
export * from './profile';
