/** What the Redis-backed stores share: bounded operations and EVALSHA scripts. The only door into `lib/redis/`. */
export * from './ops';
