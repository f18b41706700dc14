import { FractalClient } from '../lib/client';
import { ErrorCode } from '../lib/errors';
import { resolveProviderConfig } from '../lib/provider';
import { FractalStrategy } from '../lib/strategy';
import { createFractalVault, MemoryTokenStore, generateEncryptionKey } from '../lib/tokens';

const credentials = { clientID: 'id', clientSecret: 'secret' };
const stores: MemoryTokenStore[] = [];
afterAll(async () => {
  for (const store of stores) await store.close();
});

/** The three constructors that share the provider options, each with what else it needs. */
const constructors: Record<string, (extra: Record<string, unknown>) => unknown> = {
  FractalStrategy: (extra) => new FractalStrategy({ ...credentials, callbackURL: 'http://127.0.0.1:3000/cb', ...extra }, () => undefined),
  createFractalVault: (extra) => {
    const store = new MemoryTokenStore();
    stores.push(store);
    return createFractalVault({ ...credentials, store, encryptionKeys: [generateEncryptionKey()], ...extra });
  },
  FractalClient: (extra) => new FractalClient({ ...credentials, ...extra }),
};

describe.each(Object.entries(constructors))('%s validates the shared provider options like the others', (name, build) => {
  test.each([-5, 0, Number.NaN, Number.POSITIVE_INFINITY, '1000'])('timeoutMs: %p is a ConfigurationError', (timeoutMs) => {
    expect(() => build({ timeoutMs })).toThrow(expect.objectContaining({ code: ErrorCode.CONFIGURATION, message: expect.stringContaining(`${name} \`timeoutMs\``) }));
  });

  test('an unknown authMethod, under either name, is a ConfigurationError', () => {
    expect(() => build({ authMethod: 'private_key_jwt' })).toThrow(expect.objectContaining({ code: ErrorCode.CONFIGURATION }));
    expect(() => build({ tokenEndpointAuthMethod: 'private_key_jwt' })).toThrow(expect.objectContaining({ code: ErrorCode.CONFIGURATION }));
  });

  test('missing credentials and a bad retry are ConfigurationErrors', () => {
    expect(() => build({ clientSecret: '' })).toThrow(/clientSecret/);
    expect(() => build({ clientID: undefined })).toThrow(/clientID/);
    expect(() => build({ retry: { attempts: 0 } })).toThrow(/retry\.attempts/);
    expect(() => build({ retry: { baseDelayMs: -1 } })).toThrow(/retry\.baseDelayMs/);
  });

  test('valid options construct', () => {
    expect(() => build({ timeoutMs: 1, authMethod: 'client_secret_basic' })).not.toThrow();
  });
});

describe('resolveProviderConfig', () => {
  test('fills one default per option', () => {
    expect(resolveProviderConfig(credentials, 'Test')).toEqual({
      clientID: 'id',
      clientSecret: 'secret',
      environment: 'production',
      domains: { frontend: 'https://app.fractal.id', auth: 'https://auth.fractal.id', resource: 'https://resource.fractal.id' },
      tokenURL: 'https://auth.fractal.id/oauth/token',
      timeoutMs: 10_000,
      authMethod: 'client_secret_post',
      retry: { attempts: 3, baseDelayMs: 250, maxDelayMs: 2000, maxRetryAfterMs: 30_000 },
    });
  });

  test('reads the deprecated tokenEndpointAuthMethod when authMethod is absent; authMethod wins', () => {
    expect(resolveProviderConfig({ ...credentials, tokenEndpointAuthMethod: 'client_secret_basic' }, 'Test').authMethod).toBe('client_secret_basic');
    expect(resolveProviderConfig({ ...credentials, authMethod: 'client_secret_post', tokenEndpointAuthMethod: 'client_secret_basic' }, 'Test').authMethod).toBe('client_secret_post');
  });

  test('a resolved config given back is used as it is (resolved once, shared by all three)', () => {
    const resolved = resolveProviderConfig({ ...credentials, environment: 'staging', timeoutMs: 1234 }, 'Test');
    expect(resolveProviderConfig(resolved, 'Other')).toBe(resolved);
    expect(Object.isFrozen(resolved)).toBe(true);
    const strategy = new FractalStrategy({ ...resolved, callbackURL: 'http://127.0.0.1:3000/cb' }, () => undefined);
    expect(strategy.domains).toEqual(resolved.domains);
  });
});
