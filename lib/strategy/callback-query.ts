import type { Request } from 'express';
import { ErrorCode } from '../errors';
import { StateError } from '../errors';

export interface CallbackQuery {
  code?: string;
  state?: string;
  error?: string;
  error_description?: string;
  error_uri?: string;
}

const FIELDS = ['code', 'state', 'error', 'error_description', 'error_uri'] as const;
const MAX_VALUE_LENGTH = 4096;

/**
 * The query of the provider's redirect back to us, or `undefined` for a sign-in start. Taken once
 * and handed to {@link readCallbackParams}: Express 5's `req.query` is a getter that parses the
 * query string again on every read (~0.9 µs each).
 */
export function callbackQueryOf(req: Request): Record<string, unknown> | undefined {
  const query = queryOf(req);
  return query !== undefined && (query.code !== undefined || query.error !== undefined || query.state !== undefined) ? query : undefined;
}

/**
 * Reads the authorization response (RFC 6749 sections 4.1.2 and 4.1.2.1) from already parsed
 * parameters: the query string, or the body of the embedded journey's POST callback. Each
 * parameter must appear at most once as a plain string: query parsers turn `?code=a&code=b` into
 * arrays and `?code[x]=1` into objects, and RFC 6749 section 3.1 forbids repeated parameters.
 *
 * @throws StateError `invalid_callback` (400)
 */
export function readCallbackParams(query: Record<string, unknown>): CallbackQuery {
  const result: CallbackQuery = {};
  for (const field of FIELDS) {
    const value = query[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') {
      throw new StateError(`The callback parameter "${field}" must appear once`, ErrorCode.INVALID_CALLBACK);
    }
    if (value.length > MAX_VALUE_LENGTH) {
      throw new StateError(`The callback parameter "${field}" is too long`, ErrorCode.INVALID_CALLBACK);
    }
    result[field] = value;
  }
  if (result.code !== undefined && result.error !== undefined) {
    throw new StateError('The callback carries both a code and an error', ErrorCode.INVALID_CALLBACK);
  }
  if (result.code === undefined && result.error === undefined) {
    throw new StateError('The callback carries neither a code nor an error', ErrorCode.INVALID_CALLBACK);
  }
  if (result.code === '') throw new StateError('The callback has an empty code', ErrorCode.INVALID_CALLBACK);
  return result;
}

function queryOf(req: Request): Record<string, unknown> | undefined {
  const query = (req as { query?: unknown }).query;
  return typeof query === 'object' && query !== null ? (query as Record<string, unknown>) : undefined;
}
