import type { Request } from 'express';
import type { FractalClientOptions } from '../client';
import type { FractalKycOptions } from '../kyc';
import type { FractalDomains, FractalEnvironment, FractalProfile, ProviderAgents } from '../provider';
import type { FractalStrategyOptionsBase, FractalTokenParams } from '../strategy';
import type { EncryptionKey, FractalVaultOptions, RedisTokenStoreOptions, TokenStore } from '../tokens';
import type { FractalWebhooksOptions } from '../webhooks';

/** The ioredis client (or cluster) the Redis-backed parts share; they never close it. */
export type FractalRedisClient = RedisTokenStoreOptions['client'];

/** What `onSignIn` gets once the sign-in succeeded and the tokens are in the vault. */
export interface FractalSignIn {
  /** The user's profile from `GET /v2/users/me`; `profile.id` is the Fractal ID uid. */
  profile: FractalProfile;
  /** Token response fields and scope bookkeeping (granted, denied, added). No need to save `tokenSet`: it is saved. */
  params: FractalTokenParams;
  req: Request;
}

/** Options shared by every part, stated once. The parts' own options are under their names. */
export interface CreateFractalOptions {
  clientID: string;
  /** **Security:** read it from the environment or a secret store; it is never logged or put in errors. */
  clientSecret: string;
  /** `production` (default) or `staging`. */
  environment?: FractalEnvironment;
  /** Override any of the three origins (the local sandbox, tests). */
  domains?: Partial<FractalDomains>;
  /** Absolute redirect URI, exactly as registered at Fractal ID. */
  callbackURL: string;
  /** Requested scopes. Default `uid:read`. See `kycScopes()`. */
  scope?: string | readonly string[];
  /** Scopes the grant must include (sign-in fails with `insufficient_scope` otherwise). */
  requiredScopes?: string | readonly string[];
  /** Accept scopes missing from the documented catalogue. Default false. */
  allowUnknownScopes?: boolean;
  /**
   * AES-256-GCM keys of the token vault (32 bytes: Buffer, 64 hex digits or base64). The first
   * encrypts, all decrypt. **Security:** keep them out of the code and out of Redis.
   */
  encryptionKeys: EncryptionKey | readonly EncryptionKey[];
  /**
   * An ioredis client: tokens, webhook idempotency, KYC decisions and app tokens are then kept in
   * Redis under `redisPrefix` (shared by every process). Without it, in memory (one process).
   */
  redis?: FractalRedisClient;
  /** Key prefix of everything kept in Redis: `<prefix>tokens:`, `<prefix>webhooks:`, `<prefix>kyc:`, `<prefix>app:`. Default `fractal:`. */
  redisPrefix?: string;
  /** Where the vault keeps tokens, instead of the store `redis` implies (e.g. a RedisTokenStore with `cacheTtlMs`). Yours to close. */
  tokenStore?: TokenStore;
  /**
   * Agents for every call to Fractal ID from every part (`{ http?, https? }`): an egress proxy, a
   * private CA (`new https.Agent({ ca })`), other socket timeouts.
   */
  agents?: ProviderAgents;
  /** Client authentication at the token endpoint. Default `client_secret_post` (what Fractal ID documents). */
  authMethod?: 'client_secret_post' | 'client_secret_basic';
  /** Where guards send browsers to sign in. Default `/auth/fractal`. */
  signInPath?: string;
  /**
   * Maps a successful sign-in to the session user. Runs after the tokens were saved in the vault
   * and the user's cached KYC decision was dropped. Default `{ id: profile.id }`, the id the vault
   * and the KYC cache look for. Return `false` to refuse the sign-in.
   */
  onSignIn?: (signIn: FractalSignIn) => Express.User | false | Promise<Express.User | false>;
  /** More strategy options (`pkce`, `returnTo`, `ensureWallet`, `name`, `timeoutMs`, ...). */
  strategy?: Omit<FractalStrategyOptionsBase, 'clientID' | 'clientSecret' | 'environment' | 'domains' | 'callbackURL' | 'scope' | 'requiredScopes' | 'allowUnknownScopes' | 'tokenEndpointAuthMethod' | 'agents'>;
  /** More vault options (`refreshSkewMs`, `retry`, `userId`, ...). */
  vault?: Omit<FractalVaultOptions, 'store' | 'encryptionKeys' | 'clientID' | 'clientSecret' | 'environment' | 'domains' | 'authMethod' | 'signInPath' | 'agents'>;
  /** More KYC options (`cache`, `userIdOf`). */
  kyc?: Omit<FractalKycOptions, 'vault' | 'signInPath'>;
  /** More back-office client options (`scopes`, `retry`, `tokenCache`, ...). */
  client?: Omit<FractalClientOptions, 'clientID' | 'clientSecret' | 'environment' | 'domains' | 'authMethod' | 'agents'>;
  /**
   * Webhook receiving. Without it `webhooks` is `undefined`. Verification events invalidate the
   * user's KYC decision before `onEvent` runs.
   */
  webhooks?: Omit<FractalWebhooksOptions, 'onEvent'> & {
    onEvent?: FractalWebhooksOptions['onEvent'];
  };
}

/** Every top-level option name: a misspelt one (`clientId`) is refused by name instead of ignored. */
export const CREATE_FRACTAL_OPTIONS: readonly (keyof CreateFractalOptions)[] = [
  'clientID',
  'clientSecret',
  'environment',
  'domains',
  'callbackURL',
  'scope',
  'requiredScopes',
  'allowUnknownScopes',
  'encryptionKeys',
  'redis',
  'redisPrefix',
  'tokenStore',
  'agents',
  'authMethod',
  'signInPath',
  'onSignIn',
  'strategy',
  'vault',
  'kyc',
  'client',
  'webhooks',
];
