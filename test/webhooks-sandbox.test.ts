import { MemoryWebhookStore, type DeliveryAttempt } from '../lib/webhooks';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { deferred, listen, SECRET, webhookApp } from './helpers/webhooks';

// The sandbox delivers its state changes as signed webhooks, retried on failure with (shortened)
// exponential backoff, as the provider does.

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(async () => {
  await sandbox.close();
});

it('a verification journey reaches the app; a failed delivery is retried and then marked stale', async () => {
  let failContacted = true;
  const { app, events } = webhookApp({
    store: new MemoryWebhookStore(),
    onEvent: (event) => {
      // The first delivery of verification_contacted fails, so its retry arrives after the approval.
      if (event.type === 'verification_contacted' && failContacted) {
        failContacted = false;
        throw new Error('temporary failure');
      }
    },
  });
  const server = await listen(app);
  const attempts: DeliveryAttempt[] = [];
  const allDelivered = deferred();
  sandbox.setWebhooks({
    url: server.url,
    secrets: SECRET,
    retry: { initialDelayMs: 100, maxDelayMs: 200, maxAttempts: 3 },
    onAttempt: (attempt) => {
      attempts.push(attempt);
      if (attempts.filter((a) => a.ok).length === 2) allDelivered.resolve();
    },
  });
  try {
    const { uid } = sandbox.users.ensure({ email: 'webhooks@example.com' });
    sandbox.users.setVerification(uid, 'basic', { status: 'contacted' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    sandbox.users.setVerification(uid, 'basic', { status: 'done', credential: 'approved' });
    await allDelivered.promise;

    expect(attempts.map((a) => [a.type, a.attempt, a.status])).toEqual([
      ['verification_contacted', 1, 500],
      ['verification_approved', 1, 200],
      ['verification_contacted', 2, 200],
    ]);
    const handled = events.map((e) => [e.type, e.stale]);
    expect(handled).toEqual([
      ['verification_contacted', false], // failed in the handler
      ['verification_approved', false],
      ['verification_contacted', true], // the retry, older than the approval
    ]);
  } finally {
    sandbox.setWebhooks(undefined);
    await server.close();
  }
});
