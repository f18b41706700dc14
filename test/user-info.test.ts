import { ErrorCode } from '../lib';
import { parseFractalUser, toFractalProfile } from '../lib/provider';

// Tolerant reading of GET /v2/users/me (user-integration/user-information-retrieval.md): only the
// uid is required; the docs' own examples omit most other documented fields.
describe('parseFractalUser', () => {
  it('requires only a non-empty string uid', () => {
    expect(parseFractalUser({ uid: 'u-1' })).toEqual({ uid: 'u-1' });
    for (const body of [null, [], 'x', {}, { uid: '' }, { uid: 42 }, { emails: [] }]) {
      expect(() => parseFractalUser(body)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_PROVIDER_RESPONSE }));
    }
  });

  it('accepts cases without id, status, credential or journey_completed, details: null and a report', () => {
    const user = parseFractalUser({
      uid: 'u-1',
      verification_cases: [
        { level: 'basic+liveness', status: 'approved', details: null },
        { level: 'plus', report: null, details: { full_name: 'Ada', residential_address_country: 'PT' } },
        { level: 'wallet-eth', report: { report_id: 'r1', indicators: null } },
      ],
    });
    expect(user.verification_cases).toEqual([
      { level: 'basic+liveness', status: 'approved' },
      { level: 'plus', details: { full_name: 'Ada', residential_address_country: 'PT' } },
      { level: 'wallet-eth', report: { report_id: 'r1', indicators: null } },
    ]);
  });

  it('treats a documented field of the wrong type as absent, and skips entries without their key value', () => {
    const user = parseFractalUser({
      uid: 'u-1',
      emails: [{ address: 'a@example.com', source_type: 7 }, { source_type: 'registration' }, 'junk', { address: '' }],
      phones: [{ number: 4400 }, { number: '+4400000000' }],
      verification_cases: [
        { id: 9, level: 'basic', status: ['done'], credential: null, journey_completed: 'yes', details: 'none' },
        { level: '' },
        { status: 'done', credential: 'approved' },
        { level: 'liveness', details: { liveness: 'true', full_name: 12, extra: 12 } },
      ],
      wallets: [{ address: '0xabc', currency: 1, id: null, verified: 'no' }, { currency: 'eth' }],
    });
    expect(user).toEqual({
      uid: 'u-1',
      emails: [{ address: 'a@example.com' }],
      phones: [{ number: '+4400000000' }],
      verification_cases: [{ level: 'basic' }, { level: 'liveness', details: { extra: 12 } }],
      wallets: [{ address: '0xabc' }],
    });
  });

  it('treats a list of the wrong type as absent', () => {
    expect(parseFractalUser({ uid: 'u-1', emails: 'a@example.com', verification_cases: {}, wallets: null, phones: 3 })).toEqual({ uid: 'u-1' });
  });

  it('keeps unknown fields, top level and nested, without touching the prototype', () => {
    const body = JSON.parse(
      '{"uid":"u-1","phones:":[{"number":"+1"}],"future":{"a":1},"__proto__":{"polluted":true},' +
        '"verification_cases":[{"level":"basic","score":3,"details":{"files":"...","__proto__":{"x":1}}}],' +
        '"wallets":[{"address":"0x1","chain_id":1}],"emails":[{"address":"a@b.c","primary":true}]}',
    );
    const user = parseFractalUser(body);
    expect(user['phones:']).toEqual([{ number: '+1' }]);
    expect(user.future).toEqual({ a: 1 });
    expect(Object.getPrototypeOf(user)).toBe(Object.prototype);
    expect((user as Record<string, unknown>).polluted).toBeUndefined();
    const kase = user.verification_cases?.[0];
    expect(kase).toMatchObject({ level: 'basic', score: 3, details: { files: '...' } });
    expect(Object.getPrototypeOf(kase?.details)).toBe(Object.prototype);
    expect(user.wallets).toEqual([{ address: '0x1', chain_id: 1 }]);
    expect(user.emails).toEqual([{ address: 'a@b.c', primary: true }]);
  });
});

describe('toFractalProfile', () => {
  it('builds a profile from a minimal answer', () => {
    const profile = toFractalProfile(parseFractalUser({ uid: 'u-1', emails: [{ address: 'a@example.com' }], wallets: [{ address: '0x2003', currency: 'eth' }] }));
    expect(profile).toMatchObject({ id: 'u-1', displayName: 'a@example.com', emails: [{ value: 'a@example.com' }], verificationCases: [], wallets: [{ address: '0x2003', currency: 'eth' }] });
  });
});
