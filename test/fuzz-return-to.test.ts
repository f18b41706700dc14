import fc from 'fast-check';
import { safeReturnTo } from '../lib/strategy';
import { fuzzParameters } from './helpers/fuzz';

const APP_ORIGIN = 'https://app.example';

/** Pieces attackers combine to escape a "relative path" check. */
const tricky = fc.constantFrom(
  '/', '//', '\\', '/\\', '\\/', 'https:', 'http:', 'javascript:', '//evil.com', 'evil.com', '@', '.', '..', '%2F', '%2f', '%5C',
  '%09', '%0d%0a', '\t', '\r', '\n', '\u0000', ' ', '#', '?', ':', '\u2028', '\uff0f', '／', '%E2%80%A8', 'a', '/a', '//a', '///',
);
const candidate = fc.oneof(
  fc.array(tricky, { maxLength: 8 }).map((parts) => parts.join('')),
  fc.string({ maxLength: 64 }),
  fc.string({ unit: 'grapheme', maxLength: 32 }),
  fc.tuple(fc.constantFrom('', 'https:', '/', '/\\'), fc.webUrl()).map(([scheme, url]) => scheme + url.replace(/^https?:/, '')),
);

describe('returnTo (property)', () => {
  it('only ever yields a path that stays on the app origin when used as a redirect', () => {
    fc.assert(
      fc.property(candidate, (value) => {
        const result = safeReturnTo(value);
        if (result === undefined) return true;
        // What a browser does with `Location: <result>` on the app's page:
        const resolved = new URL(result, `${APP_ORIGIN}/auth/fractal/callback`);
        return (
          resolved.origin === APP_ORIGIN &&
          result.startsWith('/') &&
          !result.startsWith('//') &&
          !result.includes('\\') &&
          // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
          !/[\u0000-\u001f\u007f]/.test(result)
        );
      }),
      fuzzParameters(),
    );
  });

  it('keeps ordinary same-origin paths unchanged', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), (segments) => {
        const path = `/${segments.join('/')}`;
        return safeReturnTo(path) === path;
      }),
      fuzzParameters(),
    );
  });
});
