import { ErrorCode, KYC_LEVELS, addonSupport, isFractalError, kycScopes, missingScopes } from '../lib';
import { KYC_ADDONS, diffScopes, normalizeScopes, parseScope, validateUserScopes } from '../lib/provider';

describe('kycScopes', () => {
  it('builds status scopes for a level and its add-ons, with uid:read first', () => {
    expect(kycScopes('plus', { addons: ['wallet-eth', 'liveness'] })).toEqual([
      'uid:read',
      'verification.plus:read',
      'verification.wallet-eth:read',
      'verification.liveness:read',
    ]);
  });

  it('adds the details scope next to each status scope when details are asked for', () => {
    expect(kycScopes('basic', { details: true, contact: true })).toEqual([
      'uid:read',
      'contact:read',
      'verification.basic:read',
      'verification.basic.details:read',
    ]);
  });

  it('accepts several levels and can leave uid:read out', () => {
    expect(kycScopes(['uniqueness', 'basic'], { uid: false })).toEqual(['verification.uniqueness:read', 'verification.basic:read']);
  });

  it.each([
    ['an unknown level', () => kycScopes('gold' as never)],
    ['an unknown add-on', () => kycScopes('basic', { addons: ['wallet-doge' as never] })],
    ['add-ons without a level', () => kycScopes([], { addons: ['liveness'] })],
  ])('rejects %s with a configuration error', (_name, build) => {
    expect(build).toThrow(expect.objectContaining({ code: ErrorCode.CONFIGURATION }));
  });
});

// The "Add-on support matrix" of kyc-levels.md (newest version): uniqueness includes liveness and
// cannot take selfie; every other documented pair is available.
describe('add-on support matrix', () => {
  it('says which add-ons each level includes or excludes', () => {
    expect(addonSupport('uniqueness', 'liveness')).toBe('included');
    expect(addonSupport('uniqueness', 'selfie')).toBe('unavailable');
    for (const level of ['basic', 'plus'] as const) for (const addon of KYC_ADDONS) expect(addonSupport(level, addon)).toBe('available');
    const uniquenessOthers = KYC_ADDONS.filter((a) => a !== 'liveness' && a !== 'selfie');
    for (const addon of uniquenessOthers) expect(addonSupport('uniqueness', addon)).toBe('available');
    expect(KYC_LEVELS).toEqual(['uniqueness', 'basic', 'plus']);
  });

  it('refuses an add-on that every requested level excludes, saying why and what to do', () => {
    const build = () => kycScopes('uniqueness', { addons: ['selfie'] });
    expect(build).toThrow(expect.objectContaining({ code: ErrorCode.CONFIGURATION }));
    expect(build).toThrow(/"selfie" is not available with level "uniqueness".*kyc-levels\.md.*basic, plus/);
    expect(() => validateUserScopes(['verification.uniqueness:read', 'verification.selfie.details:read'])).toThrow(
      expect.objectContaining({ code: ErrorCode.CONFIGURATION, message: expect.stringMatching(/"selfie" is not available with level "uniqueness"/) }),
    );
  });

  it('accepts an included add-on, and an add-on that one of several levels supports', () => {
    expect(kycScopes('uniqueness', { addons: ['liveness'] })).toEqual(['uid:read', 'verification.uniqueness:read', 'verification.liveness:read']);
    expect(() => kycScopes(['uniqueness', 'basic'], { addons: ['selfie'] })).not.toThrow();
    expect(() => validateUserScopes(['verification.uniqueness:read', 'verification.plus:read', 'verification.selfie:read'])).not.toThrow();
    expect(() => validateUserScopes(kycScopes('uniqueness', { addons: ['idos', 'ssn', 'uniq', 'wallet-kar'], details: true }))).not.toThrow();
  });
});

describe('validateUserScopes', () => {
  it('accepts the documented catalogue', () => {
    expect(() => validateUserScopes(kycScopes('plus', { addons: ['selfie', 'sow'], details: true, contact: true }))).not.toThrow();
  });

  it('rejects add-on scopes requested without any level scope, naming the fix', () => {
    expect(() => validateUserScopes(['uid:read', 'verification.liveness:read'])).toThrow(/without a KYC level.*verification\.basic:read/);
  });

  it('rejects unknown scopes unless allowed', () => {
    expect(() => validateUserScopes(['uid:read', 'verification.platinum:read'])).toThrow(/Unknown Fractal ID scope/);
    expect(() => validateUserScopes(['uid:read', 'verification.platinum:read'], { allowUnknown: true })).not.toThrow();
  });

  it('rejects the client-credentials scope in a user request', () => {
    expect(() => validateUserScopes(['client.stats:read'])).toThrow(/client-credentials scope/);
  });

  it('rejects characters RFC 6749 forbids in a scope token', () => {
    expect(() => validateUserScopes(['uid:read"'], { allowUnknown: true })).toThrow(/RFC 6749/);
  });
});

describe('scope helpers', () => {
  it('splits space-separated scopes and drops duplicates and empty parts', () => {
    expect(normalizeScopes(' uid:read  contact:read uid:read ')).toEqual(['uid:read', 'contact:read']);
  });

  it('classifies verification scopes', () => {
    expect(parseScope('verification.basic.details:read')).toEqual({ kind: 'level', name: 'basic', details: true });
    expect(parseScope('verification.wallet-sol:read')).toEqual({ kind: 'addon', name: 'wallet-sol', details: false });
    expect(parseScope('verification.nope:read')).toEqual({ kind: 'unknown' });
  });

  it('reports denied and added scopes of a narrowed grant', () => {
    expect(diffScopes(['verification.plus:read', 'contact:read'], ['contact:read', 'uid:read'])).toEqual({
      denied: ['verification.plus:read'],
      added: ['uid:read'],
    });
    expect(missingScopes(['contact:read', 'uid:read'], ['uid:read'])).toEqual(['contact:read']);
  });

  it('raises errors that are recognisable by code', () => {
    try {
      kycScopes('gold' as never);
      throw new Error('expected a throw');
    } catch (err) {
      expect(isFractalError(err)).toBe(true);
    }
  });
});
