import type { KnownFractalWebhookPayload } from '../webhooks';
import type { DeliveryResult, WebhookSender } from '../webhooks';

/**
 * From the sandbox's state changes to the provider's notifications. The sandbox emits
 * `verification_changed` and `email_changed` on `sandbox.events`; these functions say which
 * webhook (if any) the real provider would send, and {@link forwardSandboxEvents} delivers them.
 */

/** The sandbox's `verification_changed` payload (structurally; no import from the sandbox). */
export interface SandboxVerificationChange {
  user_id: string;
  level: string;
  status: 'pending' | 'contacted' | 'done';
  credential: 'pending' | 'approved' | 'rejected';
  /** ISO 8601 on the sandbox clock. */
  timestamp: string;
}

/** The sandbox's `email_changed` payload. */
export interface SandboxEmailChange {
  user_id: string;
  email: string;
}

/**
 * `done` + `approved` -> `verification_approved`; `done` + `rejected` -> `verification_rejected`;
 * `contacted` -> `verification_contacted`; anything else (pending, or done without a decision)
 * sends nothing, as the provider documents no notification for it.
 */
export function verificationChangeToWebhook(change: SandboxVerificationChange): KnownFractalWebhookPayload | undefined {
  const data = { level: change.level, user_id: change.user_id, timestamp: change.timestamp };
  if (change.status === 'done' && change.credential === 'approved') return { type: 'verification_approved', data };
  if (change.status === 'done' && change.credential === 'rejected') return { type: 'verification_rejected', data };
  if (change.status === 'contacted') return { type: 'verification_contacted', data };
  return undefined;
}

export function emailChangeToWebhook(change: SandboxEmailChange): KnownFractalWebhookPayload {
  return { type: 'email_changed', data: { user_id: change.user_id, email: change.email } };
}

/** The part of an EventEmitter used here (`sandbox.events` is a Node EventEmitter). */
export interface SandboxEventSource {
  on(event: 'verification_changed', listener: (change: SandboxVerificationChange) => void): unknown;
  on(event: 'email_changed', listener: (change: SandboxEmailChange) => void): unknown;
  off(event: 'verification_changed', listener: (change: SandboxVerificationChange) => void): unknown;
  off(event: 'email_changed', listener: (change: SandboxEmailChange) => void): unknown;
}

export interface ForwardOptions {
  /** Told about each finished delivery (success, give-up or cancellation). */
  onResult?: (result: DeliveryResult, payload: KnownFractalWebhookPayload) => void;
  /** Told when a delivery could not start (no secret for its type, sender closed). */
  onError?: (err: unknown, payload: KnownFractalWebhookPayload) => void;
}

/**
 * Delivers the sandbox's changes as signed webhooks: `forwardSandboxEvents(sandbox.events, sender)`.
 * Returns a function that stops forwarding (deliveries already started go on until `sender.close()`).
 */
export function forwardSandboxEvents(
  events: SandboxEventSource,
  sender: Pick<WebhookSender, 'send'>,
  options: ForwardOptions = {},
): () => void {
  const deliver = (payload: KnownFractalWebhookPayload | undefined): void => {
    if (!payload) return;
    sender
      .send(payload)
      .then(
        (result) => options.onResult?.(result, payload),
        (err: unknown) => options.onError?.(err, payload),
      )
      // A throwing callback must not become an unhandled rejection in the sandbox process.
      .catch(() => undefined);
  };
  const onVerification = (change: SandboxVerificationChange): void => deliver(verificationChangeToWebhook(change));
  const onEmail = (change: SandboxEmailChange): void => deliver(emailChangeToWebhook(change));
  events.on('verification_changed', onVerification);
  events.on('email_changed', onEmail);
  return () => {
    events.off('verification_changed', onVerification);
    events.off('email_changed', onEmail);
  };
}
