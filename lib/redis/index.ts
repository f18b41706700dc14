/**
 * What the Redis-backed stores share: one adapter (bounded commands and EVALSHA scripts), the
 * lost-reply memo, change notifications, and errors without command arguments. The only door into `lib/redis/`.
 */
export * from './ops';
export { RedisAdapter, pxTtl, type RedisAdapterOptions } from './adapter';
export { UncertainTokens } from './uncertain';
export { ChangeNotifications, escapeGlob, type PatternWatch } from './notifications';
export { withoutCommandArgs } from './errors';
