import * as main from '../lib';
import * as sandbox from '../lib/sandbox';

/**
 * The public runtime names, one list per entry point. Adding or removing a name is an API change:
 * edit the list here in the same commit as the README section that documents it (the README is the
 * contract: anything exported here is documented there).
 */
const PUBLIC_EXPORTS = {
  'passport-fractal-id': [
    'createFractal',
    'FRACTAL_CHANNELS',
    'DEFAULT_REPLAY_WINDOW_MS',
    'ERROR_TABLE',
    'KRAKEN_WEBHOOK_STATUSES',
    'decideSignedIn',
    'resolveProviderConfig',
    'verifyKrakenWebhook',
    'ConfigurationError',
    'ErrorCode',
    'FRACTAL_EMBED_SCRIPT_PATH',
    'FractalClient',
    'FractalError',
    'FractalStrategy',
    'JourneyOptionError',
    'KYC_LEVELS',
    'MAX_PENDING_RETURN_TO',
    'MemoryAppTokenCache',
    'MemoryKycCache',
    'MemoryTokenStore',
    'MemoryWebhookStore',
    'OriginError',
    'ReauthenticationRequiredError',
    'RedisAppTokenCache',
    'RedisConsumptionGuard',
    'RedisKycCache',
    'RedisTokenStore',
    'RedisWebhookStore',
    'RefreshThrottledError',
    'ResourceError',
    'SessionStateStore',
    'WebhookError',
    'WebhookErrorCode',
    'WebhookSender',
    'addonSupport',
    'captureRawBody',
    'createFractalKyc',
    'createFractalVault',
    'fractalEmbedScript',
    'fractalWebhooks',
    'generateEncryptionKey',
    'isFractalError',
    'kycScopes',
    'kycStatus',
    'missingScopes',
    'newestWins',
    'normalizeScopes',
    'parseKycRequirement',
    'parseScope',
    'resolveDomains',
    'signFractalWebhook',
    'verifyFractalWebhook',
  ],
  'passport-fractal-id/sandbox': ['SandboxError', 'emailChangeToWebhook', 'forwardSandboxEvents', 'startSandbox', 'verificationChangeToWebhook'],
};

describe('public surface', () => {
  it.each([
    ['passport-fractal-id', main],
    ['passport-fractal-id/sandbox', sandbox],
  ] as const)('%s exports exactly the listed runtime names', (entry, module) => {
    expect(Object.keys(module).sort()).toEqual([...PUBLIC_EXPORTS[entry]].sort());
  });
});
