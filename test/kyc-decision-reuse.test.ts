import type { Request } from 'express';
import { createFractalKyc, createFractalVault, generateEncryptionKey, MemoryTokenStore } from '../lib';
import { startVaultSandbox, type VaultSandbox } from './helpers/vault-sandbox';

// Issue 16: with its decision cached, the KYC guard's per-request work is one lookup. A decision is
// made once per cached entry and requirement and shared (frozen) by the requests that follow,
// until the entry changes. Real vault, real sandbox.

let env: VaultSandbox;
beforeAll(async () => {
  env = await startVaultSandbox();
});
afterAll(() => env.close());

test('requests of one user share one frozen decision until their cached KYC entry is invalidated', async () => {
  const vault = createFractalVault({
    store: new MemoryTokenStore(),
    encryptionKeys: generateEncryptionKey(),
    ...env.client,
    domains: env.sandbox.domains,
    userId: (req) => req.get('x-user') || undefined,
  });
  const kyc = createFractalKyc({ vault });
  const { uid, tokenSet } = await env.signIn(undefined, ['uid:read', 'verification.basic:read']);
  await vault.saveTokens(uid, tokenSet);
  env.sandbox.users.setVerification(uid, 'basic', { status: 'done', credential: 'approved' });
  const request = () => ({ get: (name: string) => (name.toLowerCase() === 'x-user' ? uid : undefined) }) as unknown as Request;

  const first = await kyc.status(request(), 'basic');
  const second = await kyc.status(request(), 'basic');
  expect(first.status).toBe('approved');
  expect(second).toBe(first);
  expect(Object.isFrozen(first) && Object.isFrozen(first.items)).toBe(true);
  // Another requirement gets its own decision from the same entry.
  expect((await kyc.status(request(), 'basic+liveness')).requirement).toBe('basic+liveness');

  env.sandbox.users.setVerification(uid, 'basic', { status: 'done', credential: 'rejected' });
  await kyc.invalidate(uid);
  const after = await kyc.status(request(), 'basic');
  expect(after).not.toBe(first);
  expect(after.status).toBe('rejected');
});
