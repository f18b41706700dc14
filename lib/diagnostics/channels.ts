import diagnostics_channel from 'node:diagnostics_channel';

/**
 * The `node:diagnostics_channel` names this library publishes on (the convention of undici and
 * fastify). Subscribe with `diagnostics_channel.subscribe(FRACTAL_CHANNELS.refreshEnd, fn)`.
 * Messages carry ids, codes, durations and scope names, never a token, code, secret or key.
 * Publishing is skipped when a channel has no subscriber, so an app that does not listen pays nothing.
 */
export const FRACTAL_CHANNELS = {
  /** A sign-in finished: {@link SignInMessage}. */
  signIn: 'passport-fractal-id:signin',
  /** The vault starts refreshing a user's tokens at the token endpoint: {@link RefreshStartMessage}. */
  refreshStart: 'passport-fractal-id:refresh:start',
  /** A refresh succeeded: {@link RefreshEndMessage}. */
  refreshEnd: 'passport-fractal-id:refresh:end',
  /** A refresh failed after its retries (or the grant is gone): {@link RefreshFailureMessage}. */
  refreshFailure: 'passport-fractal-id:refresh:failure',
  /** A user's tokens were deleted and they must sign in again: {@link ReauthenticationMessage}. */
  reauthentication: 'passport-fractal-id:reauthentication',
  /** Redis did not answer a store operation: {@link StoreUnavailableMessage}. */
  storeUnavailable: 'passport-fractal-id:store:unavailable',
  /** A webhook delivery was answered: {@link WebhookMessage}. */
  webhook: 'passport-fractal-id:webhook',
  /** The back-office client fetched an app token (client credentials grant): {@link AppTokenMessage}. */
  appToken: 'passport-fractal-id:client:token',
} as const;

export type FractalChannelName = (typeof FRACTAL_CHANNELS)[keyof typeof FRACTAL_CHANNELS];

export interface SignInMessage {
  /** `failure`: passport's `fail` (the user's doing: denied, bad state, narrowed scopes) or `error`. */
  outcome: 'success' | 'failure';
  /** The strategy name (`fractal` by default). */
  strategy: string;
  /** The error's stable code (`access_denied`, `invalid_state`, `insufficient_scope`, `provider_timeout`...). */
  code?: string;
  /** The HTTP status the error maps to. */
  status?: number;
  grantedScopes?: string[];
  deniedScopes?: string[];
}

export interface RefreshStartMessage {
  /** The vault's user id (the one given to `saveTokens`). */
  userId: string;
}

export interface RefreshEndMessage {
  userId: string;
  /** Wall time at the token endpoint, retries included. */
  durationMs: number;
}

export interface RefreshFailureMessage {
  userId: string;
  durationMs: number;
  /** `invalid_grant` (the grant is gone), `provider_timeout`, `provider_unavailable`, ... */
  code: string;
}

export interface ReauthenticationMessage {
  userId: string;
  /** `grant_revoked`: the refresh token was refused; `no_refresh_token`: the grant had none and its access token expired. */
  reason: 'grant_revoked' | 'no_refresh_token';
}

export interface StoreUnavailableMessage {
  /** What the library was doing (`read the tokens`, `claim the delivery`, ...). */
  operation: string;
  /** `connection <ioredis status>`, `timeout` or `error`. */
  reason: string;
}

export interface WebhookMessage {
  outcome: 'accepted' | 'duplicate' | 'stale' | 'rejected';
  /** The notification type for accepted and stale deliveries (`kraken` for Kraken-format ones). */
  type?: string;
  /** sha256 of the body (the idempotency key), when the signature verified. */
  deliveryId?: string;
  /** The answer's HTTP status. */
  status: number;
  /** For `rejected`: the {@link WebhookErrorCode}. */
  code?: string;
}

export interface AppTokenMessage {
  outcome: 'success' | 'failure';
  durationMs: number;
  code?: string;
}

/** The message type of each channel, for typed subscribers. */
export interface FractalChannelMessages {
  'passport-fractal-id:signin': SignInMessage;
  'passport-fractal-id:refresh:start': RefreshStartMessage;
  'passport-fractal-id:refresh:end': RefreshEndMessage;
  'passport-fractal-id:refresh:failure': RefreshFailureMessage;
  'passport-fractal-id:reauthentication': ReauthenticationMessage;
  'passport-fractal-id:store:unavailable': StoreUnavailableMessage;
  'passport-fractal-id:webhook': WebhookMessage;
  'passport-fractal-id:client:token': AppTokenMessage;
}

/** A channel whose `publish` only takes its message type. */
export interface TypedChannel<M> {
  readonly hasSubscribers: boolean;
  publish(message: M): void;
}

type Channels = { readonly [K in keyof typeof FRACTAL_CHANNELS]: TypedChannel<FractalChannelMessages[(typeof FRACTAL_CHANNELS)[K]]> };

/**
 * The channel objects, looked up once. Call sites write
 * `if (channels.x.hasSubscribers) channels.x.publish({...})`, so that without a subscriber not
 * even the message is built.
 */
export const channels: Channels = Object.fromEntries(
  Object.entries(FRACTAL_CHANNELS).map(([key, name]) => [key, diagnostics_channel.channel(name)]),
) as unknown as Channels;

/** The stable code of an error, or `unknown`: never its message, which may name a host or an endpoint. */
export function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unknown';
}
