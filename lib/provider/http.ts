import * as http from 'node:http';
import * as https from 'node:https';
import { urlToHttpOptions } from 'node:url';
import { ErrorCode } from '../errors';
import { ProviderError } from '../errors';

/** Default per-request timeout for every call to the provider. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Provider answers larger than this are refused rather than buffered. */
const MAX_BODY_BYTES = 1024 * 1024;

/*
 * node:http with keep-alive agents rather than global fetch (undici): fetch costs ~430 µs of CPU
 * per call against ~120 µs here (bench/tools/http-client-cost.ts), and every sign-in makes two
 * provider calls, which kept scenario 3 of the benchmarks far below its target.
 *
 * One agent per protocol for the whole process, so sockets are reused across strategies, the
 * token vault and the resource client. `maxSockets` bounds the connections per provider origin
 * (requests beyond it queue, inside their timeout); `maxFreeSockets` keeps enough idle ones for
 * bursts. Idle sockets are unref'd by the agent, so they never hold the process open, and the
 * agent honours the server's `Keep-Alive: timeout=N` hint (closing idle sockets a second
 * earlier) to avoid reusing a socket the server is about to close. `timeout` closes idle sockets
 * of servers that send no hint before typical server idle timeouts (Node's default is 5 s).
 */
const AGENT_OPTIONS = { keepAlive: true, maxSockets: 128, maxFreeSockets: 32, timeout: 4_000, scheduling: 'lifo' } as const;
const httpAgent = new http.Agent(AGENT_OPTIONS);
const httpsAgent = new https.Agent(AGENT_OPTIONS);

/**
 * Your own agents for every call to Fractal ID, e.g. an egress proxy (a tunnelling agent such as
 * `https-proxy-agent`), a private CA (`new https.Agent({ ca })`), or other socket timeouts.
 * Omitted protocols use this library's shared keep-alive agents. The per-request `timeoutMs`
 * still applies on top.
 */
export interface ProviderAgents {
  http?: http.Agent;
  https?: https.Agent;
}

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
  agents?: ProviderAgents;
}

/**
 * One HTTP request to the provider with a hard timeout, mapped to typed errors on transport
 * failure. The `oauth` package under passport-oauth2 has no timeout at all, so a stalled provider
 * would hold a request (and its socket) forever; every call here is bounded.
 *
 * Errors never carry the request body or headers: they hold client secrets, codes and tokens.
 */
export function providerRequest(request: ProviderRequest): Promise<ProviderResponse> {
  const { endpoint } = request;
  const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  return new Promise<ProviderResponse>((resolve, reject) => {
    let settled = false;
    let req: http.ClientRequest | undefined;

    const fail = (err: ProviderError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Destroying the request destroys its socket: a timed-out, oversize or half-read exchange
      // must never go back to the pool, where the next request would read its leftovers.
      req?.destroy();
      reject(err);
    };
    const unavailable = (err: unknown): void =>
      fail(
        new ProviderError(
          ErrorCode.PROVIDER_UNAVAILABLE,
          endpoint,
          `Fractal ID ${endpoint} endpoint could not be reached (${transportReason(err)})`,
          { cause: err },
        ),
      );
    const tooLarge = (status: number): void =>
      fail(
        new ProviderError(ErrorCode.INVALID_PROVIDER_RESPONSE, endpoint, `Fractal ID ${endpoint} answer is larger than ${MAX_BODY_BYTES} bytes`, {
          providerStatus: status,
        }),
      );

    // One timer for everything: waiting for a pooled socket, connect, sending, and the whole answer.
    const timer = setTimeout(
      () =>
        fail(new ProviderError(ErrorCode.PROVIDER_TIMEOUT, endpoint, `Fractal ID ${endpoint} endpoint did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );

    try {
      const target = targetOf(request.url);
      const secure = target.protocol === 'https:';
      if (!secure && target.protocol !== 'http:') {
        // What fetch did too: not a transport we speak, reported without the URL.
        unavailable(new Error('unsupported protocol'));
        return;
      }
      const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
      const body = request.body;
      if (body !== undefined) {
        // fetch's default for a string body; callers normally set their own.
        if (!hasHeader(headers, 'content-type')) headers['content-type'] = 'text/plain;charset=UTF-8';
        headers['content-length'] = String(Buffer.byteLength(body));
      } else if (request.method === 'POST') {
        headers['content-length'] = '0';
      }

      const options: http.RequestOptions = {
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        path: target.path,
        method: request.method,
        headers,
        agent: (secure ? request.agents?.https : request.agents?.http) ?? (secure ? httpsAgent : httpAgent),
      };
      if (target.auth !== undefined) options.auth = target.auth;
      // Redirects are never followed (node:http does not): the caller sees the 3xx as it came.
      req = (secure ? https : http).request(options, (res) => {
        const status = res.statusCode ?? 0;
        res.on('error', unavailable);
        // A socket closed before the end of the answer; normally reported by 'error' first.
        res.on('close', () => {
          if (!res.complete) unavailable(Object.assign(new Error('response aborted'), { code: 'ECONNRESET' }));
        });

        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
          tooLarge(status);
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          size += chunk.length;
          // Counted as it streams: chunked answers declare no length.
          if (size > MAX_BODY_BYTES) {
            tooLarge(status);
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          let invalidJson = false;
          if (text.length > 0) {
            try {
              json = JSON.parse(text);
            } catch {
              invalidJson = true;
            }
          }
          resolve(new Answer(status, res.rawHeaders, json, invalidJson));
        });
      });
      // Connection errors (ECONNREFUSED, ECONNRESET, "socket hang up", DNS): only the code is kept
      // in the message. Stays attached after settling so a late error is never unhandled.
      req.on('error', unavailable);
      req.end(body);
    } catch (err) {
      // Synchronous failures: an invalid URL (ERR_INVALID_URL) or header (ERR_INVALID_CHAR).
      unavailable(err);
    }
  });
}

/**
 * The answer, with `headers` as a WHATWG `Headers` built on first read: almost every caller only
 * needs status and JSON, and building `Headers` costs a few µs per call for nothing. A class, not
 * an object literal with a getter: V8 builds such a literal through the runtime (~0.6 µs a call).
 */
class Answer implements ProviderResponse {
  #rawHeaders: string[];
  #headers: Headers | undefined;

  constructor(
    readonly status: number,
    rawHeaders: string[],
    readonly json: unknown,
    readonly invalidJson: boolean,
  ) {
    this.#rawHeaders = rawHeaders;
  }

  get headers(): Headers {
    if (this.#headers === undefined) {
      const headers = new Headers();
      const raw = this.#rawHeaders;
      for (let i = 0; i + 1 < raw.length; i += 2) {
        try {
          headers.append(raw[i]!, raw[i + 1]!);
        } catch {
          // A name or value WHATWG refuses (node:http is more lenient): skipped, as unreadable.
        }
      }
      this.#headers = headers;
    }
    return this.#headers;
  }
}

type Target = ReturnType<typeof urlToHttpOptions>;

/**
 * Parsed provider URLs. The same few (token endpoint, users/me) come back on every sign-in, and
 * `new URL` plus node:http's own conversion of it cost ~1.3 µs a request. Bounded because the
 * resource client's paths carry queries; each entry is read, never handed to node:http, which
 * mutates the options it gets.
 */
const targets = new Map<string, Target>();
const MAX_TARGETS = 64;

function targetOf(url: string): Target {
  let target = targets.get(url);
  if (target === undefined) {
    target = urlToHttpOptions(new URL(url));
    if (targets.size >= MAX_TARGETS) targets.clear();
    targets.set(url, target);
  }
  return target;
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name) return true;
  return false;
}

/** A short, secret-free reason: the error code (e.g. ECONNREFUSED, ECONNRESET, ENOTFOUND). */
function transportReason(err: unknown): string {
  // No `instanceof Error`: errors from node core come from another realm under jest's VM contexts.
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  return 'network error';
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
