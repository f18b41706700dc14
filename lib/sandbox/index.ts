/**
 * A local emulator of Fractal ID for tests, demos and the `fractal-sandbox` CLI.
 * TEST EMULATOR ONLY: in memory, no real login, unauthenticated admin API on loopback.
 */
export { startSandbox } from './server';
export { SandboxError } from './errors';
export type {
  SandboxWebhookOptions,
  Sandbox,
  SandboxOptions,
  SandboxClientInput,
  SandboxCredentials,
  SandboxDecision,
  SandboxFault,
  SandboxFaultEndpoint,
  SandboxGrant,
  SandboxCounts,
  SandboxUsers,
  SandboxUser,
  SandboxUserInput,
  SandboxUserType,
  SandboxWallet,
  SandboxWalletInput,
  SandboxWalletCurrency,
  SandboxResponseShape,
  SandboxVerificationCase,
  SandboxVerificationUpdate,
  SandboxCaseStatus,
  SandboxCredential,
  SandboxVerificationChangedEvent,
  SandboxEmailChangedEvent,
  SandboxTokenLifetimes,
} from './types';
export { verificationChangeToWebhook, emailChangeToWebhook, forwardSandboxEvents } from './webhook-events';
export type { SandboxVerificationChange, SandboxEmailChange, SandboxEventSource, ForwardOptions } from './webhook-events';
