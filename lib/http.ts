import { ErrorCode } from './errors/codes';
import { ProviderError } from './errors/provider-error';

/** Default per-request timeout for every call to the provider. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Provider answers larger than this are refused rather than buffered. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface ProviderResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, or `undefined` when the body was empty or not JSON. */
  json: unknown;
  /** True when a non-empty body failed to parse as JSON. */
  invalidJson: boolean;
}

export interface ProviderRequest {
  /** Short name for errors and logs, e.g. `token` or `users/me`. Never a URL. */
  endpoint: string;
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}

/**
 * One HTTP request to the provider with a hard timeout, mapped to typed errors on transport
 * failure. The `oauth` package under passport-oauth2 has no timeout at all, so a stalled provider
 * would hold a request (and its socket) forever; every call here is bounded.
 *
 * Errors never carry the request body or headers: they hold client secrets, codes and tokens.
 */
export async function providerRequest(request: ProviderRequest): Promise<ProviderResponse> {
  const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const init: RequestInit = {
      method: request.method,
      headers: { accept: 'application/json', ...request.headers },
      signal: controller.signal,
      redirect: 'manual',
    };
    if (request.body !== undefined) init.body = request.body;
    const response = await fetch(request.url, init);
    const text = await readBounded(response, request.endpoint);
    let json: unknown;
    let invalidJson = false;
    if (text.length > 0) {
      try {
        json = JSON.parse(text);
      } catch {
        invalidJson = true;
      }
    }
    return { status: response.status, headers: response.headers, json, invalidJson };
  } catch (err) {
    if (err instanceof ProviderError) throw err;
    if (controller.signal.aborted) {
      throw new ProviderError(
        ErrorCode.PROVIDER_TIMEOUT,
        request.endpoint,
        `Fractal ID ${request.endpoint} endpoint did not answer within ${timeoutMs} ms`,
      );
    }
    throw new ProviderError(
      ErrorCode.PROVIDER_UNAVAILABLE,
      request.endpoint,
      `Fractal ID ${request.endpoint} endpoint could not be reached (${transportReason(err)})`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
}

async function readBounded(response: Response, endpoint: string): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
    await response.body?.cancel();
    throw new ProviderError(ErrorCode.INVALID_PROVIDER_RESPONSE, endpoint, `Fractal ID ${endpoint} answer is larger than ${MAX_BODY_BYTES} bytes`, {
      providerStatus: response.status,
    });
  }
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) {
      throw new ProviderError(ErrorCode.INVALID_PROVIDER_RESPONSE, endpoint, `Fractal ID ${endpoint} answer is larger than ${MAX_BODY_BYTES} bytes`, {
        providerStatus: response.status,
      });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A short, secret-free reason from undici's error chain (e.g. ECONNREFUSED, UND_ERR_SOCKET). */
function transportReason(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (err instanceof Error && typeof (err as { code?: unknown }).code === 'string') return String((err as { code?: unknown }).code);
  return 'network error';
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
