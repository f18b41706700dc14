import { ConfigurationError } from '../errors';
import { resolveDomains, type FractalDomains, type FractalEnvironment } from './environments';
import { DEFAULT_TIMEOUT_MS, type ProviderAgents } from './http';
import { resolveRetry, type ResolvedRetry, type RetryOptions } from './retry';
import { TokenClient } from './token-client';

/** How the app authenticates at the token endpoint (RFC 6749 section 2.3.1). */
export type TokenEndpointAuthMethod = 'client_secret_post' | 'client_secret_basic';

/**
 * What the strategy, the token vault and the back-office client share about the provider: one
 * name per option, one default, one validation. Each of them resolves its options with
 * {@link resolveProviderConfig}; a later single entry point can resolve once and hand the result
 * to all three (a resolved config passed back in is returned as it is).
 */
export interface FractalProviderOptions {
  clientID: string;
  /** **Security:** read it from the environment or a secret store; it is never logged or put in errors. */
  clientSecret: string;
  /** `production` (default) or `staging`; picks the three origins. */
  environment?: FractalEnvironment;
  /** Override any of the three origins (the local sandbox, tests). */
  domains?: Partial<FractalDomains>;
  /** Token endpoint; default `<auth origin>/oauth/token`. */
  tokenURL?: string;
  /** Timeout of each request to Fractal ID, in ms. Default 10 000, for all three. */
  timeoutMs?: number;
  /** Client authentication at the token endpoint. Default `client_secret_post` (what Fractal ID documents). */
  authMethod?: TokenEndpointAuthMethod;
  /** @deprecated The strategy's old name of {@link authMethod}; still read when `authMethod` is absent. */
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  /** Retries of transient failures (5xx, 429, timeouts). Default 3 attempts, 250 ms..2 s jittered backoff, `Retry-After` up to 30 s. */
  retry?: RetryOptions;
  /**
   * Agents for every call to Fractal ID (`{ http?, https? }`): an egress proxy, a private CA,
   * other socket timeouts. Default: the library's shared keep-alive agents.
   */
  agents?: ProviderAgents;
}

/** The result of {@link resolveProviderConfig}: every option validated and filled. Frozen. */
export interface ResolvedProviderConfig {
  readonly clientID: string;
  readonly clientSecret: string;
  readonly environment: FractalEnvironment;
  readonly domains: Readonly<FractalDomains>;
  readonly tokenURL: string;
  readonly timeoutMs: number;
  readonly authMethod: TokenEndpointAuthMethod;
  readonly retry: Readonly<ResolvedRetry>;
  readonly agents?: Readonly<ProviderAgents>;
}

const RESOLVED = Symbol('passport-fractal-id.resolved-provider-config');
const AUTH_METHODS: readonly string[] = ['client_secret_post', 'client_secret_basic'];

/**
 * Validates and fills the shared provider options. `owner` names the constructor in messages
 * (`FractalStrategy`, `createFractalVault`, `FractalClient`). Throws `ConfigurationError`.
 */
export function resolveProviderConfig(options: FractalProviderOptions | ResolvedProviderConfig, owner: string): ResolvedProviderConfig {
  if (typeof options !== 'object' || options === null) throw new ConfigurationError(`${owner} needs an options object`);
  if ((options as { [RESOLVED]?: true })[RESOLVED]) return options as ResolvedProviderConfig;
  const given = options as FractalProviderOptions;
  if (typeof given.clientID !== 'string' || given.clientID.length === 0) {
    throw new ConfigurationError(`${owner} needs \`clientID\`: the client ID of your Fractal ID app (developer dashboard)`);
  }
  if (typeof given.clientSecret !== 'string' || given.clientSecret.length === 0) {
    throw new ConfigurationError(`${owner} needs \`clientSecret\`: the client secret of your Fractal ID app (developer dashboard)`);
  }
  const environment = given.environment ?? 'production';
  const domains = resolveDomains({ environment, ...(given.domains !== undefined ? { domains: given.domains } : {}) });
  const timeoutMs = given.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new ConfigurationError(`${owner} \`timeoutMs\` must be a positive number of milliseconds`);
  }
  const authMethod = given.authMethod ?? given.tokenEndpointAuthMethod ?? 'client_secret_post';
  if (!AUTH_METHODS.includes(authMethod)) {
    throw new ConfigurationError(`${owner} \`authMethod\` must be client_secret_post or client_secret_basic`);
  }
  const agents = given.agents;
  if (agents !== undefined && (typeof agents !== 'object' || agents === null || Object.values(agents).some((a) => a !== undefined && typeof (a as { addRequest?: unknown })?.addRequest !== 'function'))) {
    throw new ConfigurationError(`${owner} \`agents\` must be { http?: http.Agent, https?: https.Agent }`);
  }
  const config: ResolvedProviderConfig = {
    clientID: given.clientID,
    clientSecret: given.clientSecret,
    environment,
    domains: Object.freeze({ ...domains }),
    tokenURL: given.tokenURL ?? `${domains.auth}/oauth/token`,
    timeoutMs,
    authMethod,
    retry: Object.freeze(resolveRetry(given.retry, `${owner} retry`)),
    ...(agents !== undefined ? { agents: Object.freeze({ ...agents }) } : {}),
  };
  Object.defineProperty(config, RESOLVED, { value: true });
  return Object.freeze(config);
}

/** The one way a token endpoint client is built from a resolved config. */
export function tokenClientFor(config: ResolvedProviderConfig): TokenClient {
  return new TokenClient({
    tokenURL: config.tokenURL,
    clientID: config.clientID,
    clientSecret: config.clientSecret,
    timeoutMs: config.timeoutMs,
    authMethod: config.authMethod,
    ...(config.agents ? { agents: config.agents } : {}),
  });
}
