import { ErrorCode } from '../lib';
import { safeReturnTo, validateWallet } from '../lib/strategy';

describe('safeReturnTo', () => {
  it.each([
    ['/profile', '/profile'],
    ['/a/b?x=1#top', '/a/b?x=1#top'],
    ['/a/../b', '/b'],
  ])('keeps the same-origin path %s', (input, expected) => {
    expect(safeReturnTo(input)).toBe(expected);
  });

  it.each([
    '//evil.com',
    '/\\evil.com',
    '\\\\evil.com',
    'https://evil.com',
    'https:evil.com',
    'javascript:alert(1)',
    'evil.com',
    '/%0d%0aSet-Cookie:x'.replace('%0d%0a', '\r\n'),
    '/\tevil',
    '',
    '/' + 'a'.repeat(3000),
  ])('refuses %j', (input) => {
    expect(safeReturnTo(input)).toBeUndefined();
  });

  it('refuses non-strings', () => {
    expect(safeReturnTo(['/a'])).toBeUndefined();
    expect(safeReturnTo({ toString: () => '/a' })).toBeUndefined();
  });
});

describe('validateWallet', () => {
  it('trims and keeps a normal address', () => {
    expect(validateWallet(' 0xAbC123 ')).toBe('0xAbC123');
  });

  it.each([['has spaces', '0x12 34'], ['is empty', ''], ['is too long', 'a'.repeat(257)], ['has unicode', '0x€'], ['is not a string', 42]])(
    'rejects a value that %s with invalid_wallet',
    (_why, value) => {
      expect(() => validateWallet(value)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_WALLET, status: 400 }));
    },
  );
});
