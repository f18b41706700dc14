const PLACEHOLDER_ORIGIN = 'http://return-to.invalid';
const MAX_LENGTH = 2048;

/**
 * Accepts only same-origin relative paths for post-login redirects, so that sign-in can never be
 * turned into an open redirector (RFC 9700 section 4.11). Returns the normalised path, or
 * `undefined` for anything else: `//evil.com`, `/\evil.com` (browsers read `\` as `/`),
 * `https:evil.com`, control characters (CR/LF header injection), or over-long values.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.11
 */
export function safeReturnTo(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_LENGTH) return undefined;
  if (value[0] !== '/' || value[1] === '/' || value.includes('\\')) return undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value, PLACEHOLDER_ORIGIN);
  } catch {
    return undefined;
  }
  if (url.origin !== PLACEHOLDER_ORIGIN) return undefined;
  const path = url.pathname + url.search + url.hash;
  // The WHATWG parser can turn `/./` tricks into `//`; refuse whatever it normalised into one.
  return path.startsWith('//') ? undefined : path;
}
