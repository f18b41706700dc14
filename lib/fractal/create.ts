import { FractalClient, RedisAppTokenCache } from '../client';
import { ConfigurationError } from '../errors';
import { createFractalKyc, MemoryKycCache, RedisKycCache, type FractalKyc } from '../kyc';
import { FRACTAL_DOMAINS, type FractalProfile } from '../provider';
import { FractalStrategy, type FractalTokenParams } from '../strategy';
import { createFractalVault, MemoryTokenStore, RedisTokenStore, type FractalVault, type TokenStore } from '../tokens';
import { fractalWebhooks, MemoryWebhookStore, RedisWebhookStore, type FractalWebhooksMiddleware } from '../webhooks';
import { CREATE_FRACTAL_OPTIONS, type CreateFractalOptions } from './options';

/** Every part of the integration, built from one configuration. */
export interface Fractal {
  /** The Passport strategy: `passport.use(fractal.strategy)`. Saves the tokens in `vault` on sign-in. */
  readonly strategy: FractalStrategy;
  /** The token vault: `app.use(fractal.vault.middleware())`, `fractal.vault.require()`. */
  readonly vault: FractalVault;
  /** KYC decisions on top of the vault, invalidated by the webhooks below. */
  readonly kyc: FractalKyc;
  /** The back-office client (statistics with an app token). Lazy: no request until you call it. */
  readonly client: FractalClient;
  /** `app.post('/webhooks/fractal', fractal.webhooks)`; `undefined` without the `webhooks` option. */
  readonly webhooks: FractalWebhooksMiddleware | undefined;
  /** Releases what createFractal created (in-memory stores, Redis subscriptions). Never closes your `redis` client. */
  close(): Promise<void>;
}

/**
 * Builds the strategy, the token vault, the KYC decisions, the back-office client and (with
 * `webhooks`) the webhook middleware from one configuration, with the existing constructors. Wired
 * together: a sign-in saves its tokens in the vault and drops the user's cached KYC decision; a
 * verification webhook drops it too.
 *
 * @throws ConfigurationError naming the bad option.
 * @example
 * const fractal = createFractal({ clientID, clientSecret, callbackURL, encryptionKeys, redis });
 * passport.use(fractal.strategy);
 * app.use(fractal.vault.middleware());
 */
export function createFractal(options: CreateFractalOptions): Fractal {
  check(options);
  const prefix = options.redisPrefix ?? 'fractal:';
  const redis = options.redis;
  const shared = {
    clientID: options.clientID,
    clientSecret: options.clientSecret,
    ...(options.environment !== undefined ? { environment: options.environment } : {}),
    ...(options.domains !== undefined ? { domains: options.domains } : {}),
    ...(options.agents !== undefined ? { agents: options.agents } : {}),
  };
  const authMethod = options.authMethod ?? 'client_secret_post';
  const signInPath = options.signInPath ?? '/auth/fractal';
  const owned: { close?(): Promise<void> }[] = [];
  const own = <T extends { close?(): Promise<void> }>(part: T): T => {
    owned.push(part);
    return part;
  };

  const store: TokenStore = options.tokenStore ?? own(redis ? new RedisTokenStore({ client: redis, prefix: `${prefix}tokens:` }) : new MemoryTokenStore());
  const vault = createFractalVault({ ...options.vault, ...shared, store, encryptionKeys: options.encryptionKeys, authMethod, signInPath });
  // Only when the app gives none: a cache of the app's own is the app's to close.
  const kycCache = options.kyc?.cache ?? (redis ? own(new RedisKycCache({ client: redis, prefix: `${prefix}kyc:` })) : new MemoryKycCache());
  const kyc = createFractalKyc({ ...options.kyc, cache: kycCache, vault, signInPath });
  const client = own(
    new FractalClient({
      ...(redis ? { tokenCache: own(new RedisAppTokenCache({ client: redis, prefix: `${prefix}app:`, encryptionKeys: options.encryptionKeys })) } : {}),
      ...options.client,
      ...shared,
      authMethod,
    }),
  );

  const onSignIn = options.onSignIn ?? (({ profile }) => ({ id: profile.id }));
  const strategy = new FractalStrategy(
    {
      ...options.strategy,
      ...shared,
      callbackURL: options.callbackURL,
      ...(options.scope !== undefined ? { scope: options.scope } : {}),
      ...(options.requiredScopes !== undefined ? { requiredScopes: options.requiredScopes } : {}),
      ...(options.allowUnknownScopes !== undefined ? { allowUnknownScopes: options.allowUnknownScopes } : {}),
      tokenEndpointAuthMethod: authMethod,
      passReqToCallback: true,
      skipUserProfile: false,
    },
    async (req, _accessToken, _refreshToken, params: FractalTokenParams, profile: FractalProfile) => {
      await vault.saveTokens(profile.id, params.tokenSet);
      // A new sign-in may have completed a verification journey: decide afresh.
      await kyc.invalidate(profile.id);
      return onSignIn({ profile, params, req });
    },
  );

  let webhooks: FractalWebhooksMiddleware | undefined;
  if (options.webhooks !== undefined) {
    const { onEvent, ...rest } = options.webhooks;
    webhooks = fractalWebhooks({
      // Owned: close() sends its waiting done marks before the app closes `redis`.
      store: redis ? own(new RedisWebhookStore({ client: redis, prefix: `${prefix}webhooks:` })) : new MemoryWebhookStore(),
      ...rest,
      // First, and for stale events too: the user's next KYC decision is read fresh. A cache
      // failure rejects, so the provider delivers the event again.
      onEvent: async (event, req) => {
        await kyc.handleWebhookEvent(event);
        await onEvent?.(event, req);
      },
    });
  }

  return {
    strategy,
    vault,
    kyc,
    client,
    webhooks,
    async close() {
      await Promise.all(owned.map((part) => part.close?.()));
    },
  };
}

function fail(option: string, message: string): never {
  throw new ConfigurationError(`createFractal \`${option}\` ${message}`);
}

function check(options: CreateFractalOptions): void {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('createFractal needs options: { clientID, clientSecret, callbackURL, encryptionKeys }');
  }
  const known = new Set<string>(CREATE_FRACTAL_OPTIONS);
  for (const key of Object.keys(options)) {
    if (known.has(key)) continue;
    const near = CREATE_FRACTAL_OPTIONS.find((name) => name.toLowerCase() === key.toLowerCase());
    fail(key, `is not an option${near ? `; did you mean \`${near}\`?` : ''}`);
  }
  if (typeof options.clientID !== 'string' || options.clientID === '') fail('clientID', 'is required: the client ID of your Fractal ID app');
  if (typeof options.clientSecret !== 'string' || options.clientSecret === '') fail('clientSecret', 'is required: the client secret of your Fractal ID app');
  if (typeof options.callbackURL !== 'string' || options.callbackURL === '') fail('callbackURL', 'is required: the redirect URI registered at Fractal ID');
  if (options.encryptionKeys === undefined || options.encryptionKeys === null) {
    fail('encryptionKeys', 'is required: 32 random bytes, base64 or hex (openssl rand -base64 32)');
  }
  if (options.environment !== undefined && !Object.hasOwn(FRACTAL_DOMAINS, options.environment)) {
    fail('environment', `must be "production" or "staging", got ${JSON.stringify(options.environment)}`);
  }
  if (options.redisPrefix !== undefined && (typeof options.redisPrefix !== 'string' || /[{}]/.test(options.redisPrefix))) {
    fail('redisPrefix', 'must be a string without { or } (the stores add their own hash tags)');
  }
  if (options.onSignIn !== undefined && typeof options.onSignIn !== 'function') fail('onSignIn', 'must be a function');
  for (const part of ['strategy', 'vault', 'kyc', 'client', 'webhooks'] as const) {
    const value = options[part];
    if (value !== undefined && (value === null || typeof value !== 'object')) fail(part, 'must be an object of that part\'s options');
  }
  if (options.webhooks !== undefined && options.webhooks.secrets === undefined) {
    fail('webhooks', 'needs `secrets`: the secret token(s) from the Fractal ID dashboard');
  }
}

