import { describeCode, statusOf } from './table';

/**
 * Base class of every error this library raises.
 *
 * Branch on `err.code` (a stable string, see {@link ErrorCode}) rather than on `instanceof`:
 * bundlers and duplicated installs can load two copies of a class, but the code survives.
 * `status` is the HTTP status an app should answer with (one table for every code: `ERROR_TABLE`);
 * `error` and `uri` are the provider's OAuth error fields when the error came from Fractal ID
 * (RFC 6749 section 4.1.2.1 and 5.2).
 *
 * `description` is always set and is what `toJSON()` sends: the provider's sanitised
 * `error_description` when it sent one, else the code's fixed text from the table. It never holds
 * `message`, which is for logs (it may name a Redis host or an endpoint). Provider text can come
 * from a forged callback query: escape `description` before rendering it into HTML.
 * Messages never contain client secrets, tokens or authorization codes.
 */
export class FractalError extends Error {
  /** Stable machine-readable code. */
  readonly code: string;
  /** HTTP status an app should answer with. */
  readonly status: number;
  /** The OAuth `error` value the provider sent, when there was one. */
  readonly error?: string;
  /** Safe for a browser: the provider's `error_description` (sanitised, truncated), or the code's fixed text. */
  readonly description: string;
  /** The provider's `error_uri`, when it was a valid http(s) URL. */
  readonly uri?: string;

  constructor(
    code: string,
    message: string,
    options: {
      status?: number;
      error?: string;
      description?: string;
      uri?: string;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status ?? statusOf(code);
    if (options.error !== undefined) this.error = options.error;
    this.description = options.description ?? describeCode(code);
    if (options.uri !== undefined) this.uri = options.uri;
  }

  /** A JSON body that is safe to send to a browser or API client: `{ error: code, error_description: description }`. */
  toJSON(): { error: string; error_description: string } {
    return { error: this.code, error_description: this.description };
  }
}

/** True for errors raised by this library, whichever copy of it raised them. */
export function isFractalError(value: unknown): value is FractalError {
  return (
    value instanceof FractalError ||
    (value instanceof Error &&
      typeof (value as { code?: unknown }).code === 'string' &&
      typeof (value as { status?: unknown }).status === 'number' &&
      (value as { [FRACTAL_ERROR_BRAND]?: unknown })[FRACTAL_ERROR_BRAND] === true)
  );
}

const FRACTAL_ERROR_BRAND = Symbol.for('passport-fractal-id.error');
Object.defineProperty(FractalError.prototype, FRACTAL_ERROR_BRAND, { value: true });

const MAX_DESCRIPTION = 500;

/**
 * Provider text (error_description) is untrusted: strip control characters, which could forge log
 * lines, and bound its length.
 */
export function sanitizeProviderText(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  const clean = value.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  if (clean.length === 0) return undefined;
  return clean.length > MAX_DESCRIPTION ? `${clean.slice(0, MAX_DESCRIPTION)}…` : clean;
}

/** Only http(s) URLs are kept as `error_uri`; anything else (javascript:, data:) is dropped. */
export function sanitizeErrorUri(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 2048) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}
