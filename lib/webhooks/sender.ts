import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ConfigurationError } from '../errors';
import type { FractalWebhookPayload } from './events';
import { FRACTAL_SIGNATURE_HEADER, SecretSet, signFractalWebhook, type WebhookSecrets } from './signature';

/**
 * Sends signed webhooks the way Fractal ID does (provider docs, "Webhooks"): JSON POST, signed
 * `X-Fractal-Signature: sha1=<hex>` with the secret of the notification's type; a non-2xx answer
 * (3xx included: redirects are not followed) or no answer within 10 s is a failure, retried with
 * exponential backoff from 20 s up to daily. The sandbox delivers with it; your tests can too, with
 * short delays.
 */

export interface WebhookRetryOptions {
  /** Delay before the first retry. Default 20 000 ms (provider docs). */
  initialDelayMs?: number;
  /** Upper bound of the delay. Default 86 400 000 ms: daily (provider docs). */
  maxDelayMs?: number;
  /** Each delay is the previous one times this. Default 2 ("exponential"; the docs give no factor). */
  factor?: number;
  /**
   * Attempts in all, the first included. The provider docs do not say when it gives up; default 15
   * (about 12 doublings from 20 s reach a day, then 3 daily attempts).
   */
  maxAttempts?: number;
}

export interface WebhookSenderOptions {
  /** The app's webhook URL (http or https). */
  url: string | URL;
  /**
   * The secret tokens, as the receiving middleware takes them: one for all types, or one per type
   * (`'*'` for the others). With an array, the first one signs.
   */
  secrets: WebhookSecrets;
  retry?: WebhookRetryOptions;
  /** An attempt without a complete answer within this is a failure. Default 10 000 ms (provider docs). */
  timeoutMs?: number;
  /** Told about every attempt, for logs and tests. */
  onAttempt?: (attempt: DeliveryAttempt) => void;
}

export interface DeliveryAttempt {
  /** 1 for the first attempt. */
  attempt: number;
  type: string;
  deliveryId: string;
  ok: boolean;
  /** The HTTP status, when the app answered. */
  status?: number;
  /** Why the attempt failed without an answer (timeout, connection refused...). */
  error?: string;
  /** The first 2 KiB of the answer, for diagnostics. */
  responseBody?: string;
  durationMs: number;
}

export interface DeliveryResult {
  /** True once an attempt got a 2xx answer. */
  ok: boolean;
  /** True when `close()` stopped the delivery before it succeeded or ran out of attempts. */
  cancelled: boolean;
  /** Hex SHA-256 of the body: the `deliveryId` the receiving middleware computes. */
  deliveryId: string;
  /** Status of the last answer, if any. */
  status?: number;
  attempts: DeliveryAttempt[];
}

const MAX_RESPONSE_BODY = 2048;

export class WebhookSender {
  readonly #url: URL;
  readonly #secrets: SecretSet;
  readonly #timeoutMs: number;
  readonly #retry: Required<WebhookRetryOptions>;
  readonly #onAttempt: ((attempt: DeliveryAttempt) => void) | undefined;
  readonly #waits = new Set<() => void>();
  readonly #inflight = new Set<AbortController>();
  readonly #deliveries = new Set<Promise<DeliveryResult>>();
  #closed = false;

  constructor(options: WebhookSenderOptions) {
    let url: URL;
    try {
      url = new URL(String(options?.url));
    } catch {
      throw new ConfigurationError('WebhookSender needs `url`: an absolute http(s) URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ConfigurationError('WebhookSender `url` must be http or https');
    }
    this.#url = url;
    this.#secrets = new SecretSet(options.secrets, 'WebhookSender');
    this.#timeoutMs = positive(options.timeoutMs ?? 10_000, 'timeoutMs');
    const retry = options.retry ?? {};
    this.#retry = {
      initialDelayMs: positive(retry.initialDelayMs ?? 20_000, 'retry.initialDelayMs', true),
      maxDelayMs: positive(retry.maxDelayMs ?? 86_400_000, 'retry.maxDelayMs', true),
      factor: retry.factor ?? 2,
      maxAttempts: retry.maxAttempts ?? 15,
    };
    if (!(this.#retry.factor >= 1) || !Number.isFinite(this.#retry.factor)) {
      throw new ConfigurationError('WebhookSender `retry.factor` must be a number >= 1');
    }
    if (!Number.isSafeInteger(this.#retry.maxAttempts) || this.#retry.maxAttempts < 1) {
      throw new ConfigurationError('WebhookSender `retry.maxAttempts` must be a whole number >= 1');
    }
    this.#onAttempt = options.onAttempt;
  }

  /** The wait after failed attempt number `attempt` (1-based): initial x factor^(attempt-1), capped. */
  delayAfter(attempt: number): number {
    const { initialDelayMs, factor, maxDelayMs } = this.#retry;
    return Math.min(initialDelayMs * factor ** (attempt - 1), maxDelayMs);
  }

  /**
   * Signs and POSTs `payload` as JSON, retrying until a 2xx answer, `maxAttempts`, or `close()`.
   * Never rejects for delivery failures (read `result.ok`); rejects only when no secret is
   * configured for the payload's type, or after `close()`.
   */
  send(payload: FractalWebhookPayload): Promise<DeliveryResult> {
    if (this.#closed) return Promise.reject(new ConfigurationError('WebhookSender is closed'));
    const secret = this.#secrets.for(payload.type)[0];
    if (secret === undefined) {
      return Promise.reject(new ConfigurationError(`WebhookSender has no secret for type ${JSON.stringify(payload.type)}`));
    }
    const body = Buffer.from(JSON.stringify({ type: payload.type, data: payload.data }), 'utf8');
    const delivery = this.#deliver(payload.type, body, signFractalWebhook(secret, body));
    this.#deliveries.add(delivery);
    void delivery.finally(() => this.#deliveries.delete(delivery));
    return delivery;
  }

  /** Deliveries not finished yet (in flight or waiting for a retry). */
  get pending(): number {
    return this.#deliveries.size;
  }

  /** Cancels pending retries and aborts requests in flight; their results say `cancelled`. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const wake of [...this.#waits]) wake();
    for (const controller of [...this.#inflight]) controller.abort();
    await Promise.allSettled([...this.#deliveries]);
  }

  async #deliver(type: string, body: Buffer, signature: string): Promise<DeliveryResult> {
    const deliveryId = createHash('sha256').update(body).digest('hex');
    const attempts: DeliveryAttempt[] = [];
    const result = (ok: boolean, cancelled: boolean): DeliveryResult => {
      const status = attempts.at(-1)?.status;
      return { ok, cancelled, deliveryId, attempts, ...(status === undefined ? {} : { status }) };
    };
    for (let number = 1; ; number++) {
      if (this.#closed) return result(false, true);
      const attempt = await this.#attempt(number, type, deliveryId, body, signature);
      attempts.push(attempt);
      try {
        this.#onAttempt?.(attempt);
      } catch {
        // A failing observer must not stop the delivery.
      }
      if (attempt.ok) return result(true, false);
      if (this.#closed) return result(false, true);
      if (number >= this.#retry.maxAttempts) return result(false, false);
      await this.#wait(this.delayAfter(number));
    }
  }

  async #attempt(number: number, type: string, deliveryId: string, body: Buffer, signature: string): Promise<DeliveryAttempt> {
    const started = Date.now();
    const base = { attempt: number, type, deliveryId };
    const controller = new AbortController();
    this.#inflight.add(controller);
    try {
      const answer = await post(this.#url, body, signature, this.#timeoutMs, controller.signal);
      const ok = answer.status >= 200 && answer.status < 300;
      return { ...base, ok, status: answer.status, responseBody: answer.body, durationMs: Date.now() - started };
    } catch (err) {
      return { ...base, ok: false, error: err instanceof Error ? err.message : String(err), durationMs: Date.now() - started };
    } finally {
      this.#inflight.delete(controller);
    }
  }

  /** A cancellable, unref'd sleep: a forgotten sender does not keep the process alive. */
  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#waits.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.#waits.add(wake);
    });
  }
}

/** One POST on its own connection, bounded by `timeoutMs` from start to the end of the answer. */
function post(url: URL, body: Buffer, signature: string, timeoutMs: number, signal: AbortSignal): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, {
      method: 'POST',
      agent: false,
      signal,
      headers: {
        'Content-Type': 'application/json',
        'Content-Length': body.length,
        [FRACTAL_SIGNATURE_HEADER]: signature,
        'User-Agent': 'passport-fractal-id-webhook-sender',
        Connection: 'close',
      },
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      reject(signal.aborted ? new Error('cancelled by close()') : err);
    };
    req.on('error', fail);
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < MAX_RESPONSE_BODY) chunks.push(chunk);
        size += chunk.length;
      });
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BODY).toString('utf8') });
      });
    });
    req.end(body);
  });
}

function positive(value: number, name: string, allowZero = false): number {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new ConfigurationError(`WebhookSender \`${name}\` must be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds`);
  }
  return value;
}
