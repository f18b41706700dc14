import { FractalClient, type FractalClientOptions } from '../../lib/client';
import { startSandbox, type Sandbox, type SandboxCredentials } from '../../lib/sandbox';
import { REDIRECT_URI } from './sandbox';

/** A sandbox with one registered app, and a factory of back-office clients pointed at it. */
export interface ClientSandbox {
  sandbox: Sandbox;
  credentials: SandboxCredentials;
  /** A `FractalClient` on the sandbox with fast retries; options override. Closed by `close()`. */
  client(options?: Partial<FractalClientOptions>): FractalClient;
  close(): Promise<void>;
}

/** Backoff short enough for a shared 2-core machine; the behaviour is the same as in production. */
export const FAST_RETRY = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };

export async function startClientSandbox(): Promise<ClientSandbox> {
  const sandbox = await startSandbox();
  const credentials = sandbox.registerClient({ redirectUris: [REDIRECT_URI], name: 'Back office' });
  const clients: FractalClient[] = [];
  return {
    sandbox,
    credentials,
    client(options = {}) {
      const client = new FractalClient({ ...credentials, domains: sandbox.domains, retry: FAST_RETRY, ...options });
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      await sandbox.close();
    },
  };
}

/**
 * Three users with one case of each statistics status:
 * alice (DE) basic approved + liveness pending, bob (FR) basic rejected, carol (DE) plus contacted.
 */
export function seedUsers(sandbox: Sandbox): { alice: string; bob: string; carol: string } {
  const alice = sandbox.users.ensure({ email: 'alice@example.com', country: 'DE' }).uid;
  const bob = sandbox.users.ensure({ email: 'bob@example.com', country: 'FR' }).uid;
  const carol = sandbox.users.ensure({ email: 'carol@example.com', country: 'DE' }).uid;
  sandbox.users.setVerification(alice, 'basic', { status: 'done', credential: 'approved' });
  sandbox.users.setVerification(alice, 'liveness', { status: 'pending', credential: 'pending' });
  sandbox.users.setVerification(bob, 'basic', { status: 'done', credential: 'rejected' });
  sandbox.users.setVerification(carol, 'plus', { status: 'contacted' });
  return { alice, bob, carol };
}

/** The number of client-credentials token responses the sandbox gave. */
export function tokenRequests(sandbox: Sandbox): number {
  return sandbox.counts().token.client_credentials;
}
