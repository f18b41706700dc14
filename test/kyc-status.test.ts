import { ConfigurationError, kycStatus, parseKycRequirement, type FractalUser, type KycStatus } from '../lib';
import { toFractalProfile } from '../lib/provider';

// The decision "is this user approved at level X?" from whatever /v2/users/me carries.
// Shapes from user-integration/user-information-retrieval.md (its field table and its examples).

const uid = 'c0ffee00-0000-4000-8000-000000000001';
const user = (cases: unknown): FractalUser => ({ uid, verification_cases: cases }) as unknown as FractalUser;
const done = (level: string, credential = 'approved') => ({ id: `case-${level}`, level, status: 'done', credential, journey_completed: true });

describe('kycStatus: levels and add-ons', () => {
  it('approves a level with an approved, concluded case', () => {
    const decision = kycStatus(user([done('basic')]), 'basic');
    expect(decision).toEqual({
      status: 'approved',
      requirement: 'basic',
      items: [{ item: 'basic', status: 'approved', cases: [{ id: 'case-basic', level: 'basic', status: 'done', credential: 'approved', journey_completed: true }] }],
    });
  });

  it('covers basic+liveness with separate cases, one per item (the field table)', () => {
    const decision = kycStatus(user([done('basic'), done('liveness')]), 'basic+liveness');
    expect(decision.status).toBe('approved');
    expect(decision.items.map((i) => [i.item, i.status])).toEqual([
      ['basic', 'approved'],
      ['liveness', 'approved'],
    ]);
  });

  it('covers basic+liveness with one combined case (the examples)', () => {
    const decision = kycStatus(user([done('basic+liveness+wallet-eth')]), ['basic', 'liveness']);
    expect(decision.status).toBe('approved');
    expect(decision.items.every((i) => i.cases[0]?.level === 'basic+liveness+wallet-eth')).toBe(true);
  });

  it('is missing when an add-on has no case, even if the level is approved', () => {
    const decision = kycStatus(user([done('basic')]), 'basic+liveness');
    expect(decision.status).toBe('missing');
    expect(decision.items.find((i) => i.item === 'liveness')).toEqual({ item: 'liveness', status: 'missing', cases: [] });
  });

  it('does not let a plus case satisfy basic, nor a name that merely starts alike', () => {
    expect(kycStatus(user([done('plus')]), 'basic').status).toBe('missing');
    expect(kycStatus(user([done('basic'), done('wallet-ethx')]), 'basic+wallet-eth').status).toBe('missing');
  });

  it('covers liveness with a uniqueness case: kyc-levels.md lists it as included', () => {
    expect(kycStatus(user([done('uniqueness')]), 'uniqueness+liveness').status).toBe('approved');
    // but only for the level that includes it
    expect(kycStatus(user([done('basic')]), 'basic+liveness').status).toBe('missing');
  });

  it('accepts a passport profile, the raw answer or the list of cases alike', () => {
    const raw = user([done('plus')]);
    expect(kycStatus(toFractalProfile(raw), 'plus').status).toBe('approved');
    expect(kycStatus(raw, 'plus').status).toBe('approved');
    expect(kycStatus([done('plus')], 'plus').status).toBe('approved');
  });
});

describe('kycStatus: each status', () => {
  it.each<[string, Record<string, unknown>, KycStatus]>([
    ['pending review', { status: 'pending', credential: 'pending' }, 'pending'],
    ['the user must act', { status: 'contacted', credential: 'pending' }, 'contacted'],
    ['concluded, approved', { status: 'done', credential: 'approved' }, 'approved'],
    ['concluded, rejected', { status: 'done', credential: 'rejected' }, 'rejected'],
    ['approved but reopened for review', { status: 'pending', credential: 'approved' }, 'pending'],
    ['approved but the user must act again', { status: 'contacted', credential: 'approved' }, 'contacted'],
    ['no status, credential approved', { credential: 'approved' }, 'approved'],
    ['no status, credential rejected', { credential: 'rejected' }, 'rejected'],
    ['an unknown credential', { status: 'done', credential: 'expired' }, 'pending'],
  ])('%s', (_name, fields, expected) => {
    expect(kycStatus(user([{ level: 'basic', ...fields }]), 'basic').status).toBe(expected);
  });
});

describe('kycStatus: a missing credential is never an approval', () => {
  it.each<[string, Record<string, unknown>]>([
    ['status done', { status: 'done' }],
    ['journey completed', { status: 'done', journey_completed: true }],
    ['legacy status approved', { status: 'approved' }],
    ['credential null', { status: 'done', credential: null }],
    ['credential of the wrong type', { status: 'done', credential: true }],
    ['nothing but the level', {}],
  ])('%s', (_name, fields) => {
    expect(kycStatus(user([{ level: 'basic', ...fields }]), 'basic').status).toBe('pending');
  });
});

describe('kycStatus: legacy answers with the outcome in status', () => {
  it('rejects on a legacy status rejected, with or without a credential', () => {
    expect(kycStatus(user([{ level: 'basic', status: 'rejected' }]), 'basic').status).toBe('rejected');
    expect(kycStatus(user([{ level: 'basic', status: 'rejected', credential: 'approved' }]), 'basic').status).toBe('rejected');
  });

  it('treats a legacy status approved as concluded when a credential says approved', () => {
    expect(kycStatus(user([{ level: 'basic+liveness', status: 'approved', credential: 'approved' }]), 'basic+liveness').status).toBe('approved');
  });

  it('approves a legacy status approved without a credential only when the app opts in', () => {
    const legacy = user([{ level: 'basic+liveness', status: 'approved' }]);
    const optIn = { legacyApprovedStatus: true };
    expect(kycStatus(legacy, 'basic+liveness').status).toBe('pending');
    expect(kycStatus(legacy, 'basic+liveness', optIn).status).toBe('approved');
    // The opt-in reads only the legacy shape: a credential, when present, still decides.
    expect(kycStatus(user([{ level: 'basic', status: 'approved', credential: 'pending' }]), 'basic', optIn).status).toBe('pending');
    expect(kycStatus(user([{ level: 'basic', status: 'done' }]), 'basic', optIn).status).toBe('pending');
  });

  it('reads the docs\' response1 example: plus+selfie pending, basic+liveness approved only in status', () => {
    const example = user([
      { details: null, level: 'plus+selfie', status: 'pending' },
      { details: null, level: 'basic+liveness', status: 'approved' },
      { details: { files: '...' }, level: 'basic+liveness+wallet-eth', status: 'approved', report: { mock_response: true } },
    ]);
    expect(kycStatus(example, 'plus+selfie').status).toBe('pending');
    expect(kycStatus(example, 'basic+liveness').status).toBe('pending');
    expect(kycStatus(example, 'basic+wallet-eth').items.map((i) => i.cases.length)).toEqual([2, 1]);
  });
});

describe('kycStatus: precedence across items and cases', () => {
  it('rejected wins over the rest, then missing, contacted, pending', () => {
    const rejected = { level: 'basic', status: 'done', credential: 'rejected' };
    const contacted = { level: 'liveness', status: 'contacted', credential: 'pending' };
    const pending = { level: 'selfie', status: 'pending', credential: 'pending' };
    expect(kycStatus(user([rejected, contacted, pending]), 'basic+liveness+selfie+sow').status).toBe('rejected');
    expect(kycStatus(user([done('basic'), contacted, pending]), 'basic+liveness+selfie+sow').status).toBe('missing');
    expect(kycStatus(user([done('basic'), contacted, pending]), 'basic+liveness+selfie').status).toBe('contacted');
    expect(kycStatus(user([done('basic'), done('liveness'), pending]), 'basic+liveness+selfie').status).toBe('pending');
  });

  it('lets one approved case cover an item that an older case rejected', () => {
    const decision = kycStatus(user([done('basic', 'rejected'), done('basic+liveness')]), 'basic');
    expect(decision.status).toBe('approved');
    expect(decision.items[0]?.cases).toHaveLength(2);
  });
});

describe('kycStatus: tolerant reading', () => {
  it('skips cases without a usable level and ignores fields of the wrong type', () => {
    const messy = user([
      null,
      'basic',
      { status: 'done', credential: 'approved' },
      { level: null, credential: 'approved' },
      { level: 42, credential: 'approved' },
      { level: '', credential: 'approved' },
      { level: 'basic', id: 7, status: ['done'], credential: 'pending', journey_completed: 'yes', details: 'x' },
    ]);
    const decision = kycStatus(messy, 'basic');
    expect(decision.status).toBe('pending');
    expect(decision.items[0]?.cases).toEqual([{ level: 'basic', credential: 'pending' }]);
  });

  it.each([undefined, null, 'none', 3, { 0: 'basic' }])('treats verification_cases %p as no cases', (cases) => {
    expect(kycStatus(user(cases), 'basic').status).toBe('missing');
  });

  it('never throws on an answer with only a uid', () => {
    expect(kycStatus({ uid } as FractalUser, 'plus').status).toBe('missing');
  });
});

describe('parseKycRequirement', () => {
  it('accepts a level, a +-joined level and a list, all the same requirement', () => {
    const a = parseKycRequirement('basic+liveness');
    const b = parseKycRequirement(['basic', 'liveness']);
    const c = parseKycRequirement(' basic + liveness ');
    for (const r of [a, b, c]) {
      expect(r).toMatchObject({ level: 'basic', addons: ['liveness'], items: ['basic', 'liveness'], name: 'basic+liveness' });
      expect(r.scopes).toEqual(['uid:read', 'verification.basic:read', 'verification.liveness:read']);
    }
    expect(parseKycRequirement(a)).toBe(a);
    expect(parseKycRequirement(['liveness', 'plus']).name).toBe('plus+liveness');
  });

  it.each<[unknown, RegExp]>([
    ['gold', /Unknown KYC level or add-on "gold"/],
    ['basic+facial', /Unknown KYC level or add-on "facial"/],
    ['liveness', /needs a level/],
    ['basic+plus', /one level/],
    ['basic+liveness+liveness', /named twice/],
    ['', /empty/],
    ['basic+', /empty/],
    [[], /level with optional add-ons/],
    [[3], /non-text/],
    [{ level: 'basic' }, /level with optional add-ons/],
  ])('refuses %p with a ConfigurationError saying why', (input, message) => {
    const attempt = () => parseKycRequirement(input as string);
    expect(attempt).toThrow(ConfigurationError);
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (err) {
      expect((err as ConfigurationError).code).toBe('configuration_error');
    }
  });

  it('is applied by kycStatus too', () => {
    expect(() => kycStatus(user([]), 'gold' as 'basic')).toThrow(ConfigurationError);
  });
});
