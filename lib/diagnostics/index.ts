/**
 * Observability: events on `node:diagnostics_channel`, one named channel per kind of event, free
 * when nobody subscribes. The only door into `lib/diagnostics/`.
 */
export { FRACTAL_CHANNELS, channels, codeOf } from './channels';
export type {
  FractalChannelName,
  FractalChannelMessages,
  TypedChannel,
  SignInMessage,
  RefreshStartMessage,
  RefreshEndMessage,
  RefreshFailureMessage,
  ReauthenticationMessage,
  StoreUnavailableMessage,
  WebhookMessage,
  AppTokenMessage,
} from './channels';
export { observeSignIn } from './sign-in';
