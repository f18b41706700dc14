import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { SandboxError } from '../errors';
import type { SandboxFault, SandboxFaultEndpoint } from '../types';

const ENDPOINTS: readonly SandboxFaultEndpoint[] = ['token', 'userinfo', 'stats', 'authorize'];
const MAX_DELAY_MS = 120_000;

interface Pending {
  fault: SandboxFault;
  remaining: number;
}

/**
 * Injected failures, so that clients can be tested against a provider that is slow, down, or
 * answering garbage. Faults of one endpoint queue up in injection order; each applies to the
 * next `times` requests.
 */
export class FaultInjector {
  readonly #queues = new Map<SandboxFaultEndpoint, Pending[]>();
  readonly #timers = new Set<NodeJS.Timeout>();

  inject(endpoint: unknown, fault: unknown): void {
    const name = checkEndpoint(endpoint);
    const checked = checkFault(fault);
    const queue = this.#queues.get(name) ?? [];
    queue.push({ fault: checked, remaining: checked.times ?? 1 });
    this.#queues.set(name, queue);
  }

  clear(): void {
    this.#queues.clear();
  }

  /** Cancels pending delays (on close: the sockets are destroyed anyway). */
  cancelTimers(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  /** Takes the next fault of an endpoint, if any. */
  take(endpoint: SandboxFaultEndpoint): SandboxFault | undefined {
    const queue = this.#queues.get(endpoint);
    const head = queue?.[0];
    if (!queue || !head) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) queue.shift();
    return head.fault;
  }

  /**
   * Middleware that runs before the endpoint's normal handling. `onFailure` is called when the
   * fault replaces the answer (for the token counters); a delay is followed by the normal answer.
   */
  middleware(endpoint: SandboxFaultEndpoint, onFailure: () => void = () => undefined): RequestHandler {
    return (req: Request, res: Response, next: NextFunction) => {
      const fault = this.take(endpoint);
      if (!fault) return next();
      if (fault.kind === 'delay') {
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          next();
        }, fault.ms);
        this.#timers.add(timer);
        return undefined;
      }
      if (fault.kind === 'lost-answer') {
        // Handled normally (counted as a success: the provider did commit), then the connection
        // is cut instead of answering.
        res.end = ((..._args: unknown[]) => {
          req.socket.destroy();
          return res;
        }) as Response['end'];
        return next();
      }
      onFailure();
      if (fault.kind === 'reset') {
        // No answer at all: the client sees a connection reset (ECONNRESET / "socket hang up").
        req.socket.destroy();
        return undefined;
      }
      res.set('Cache-Control', 'no-store');
      if (fault.kind === 'echo') {
        echoRequest(req, res);
        return undefined;
      }
      if (fault.kind === 'invalid-json') {
        res.status(200).type('application/json').send('{"access_token": "truncated-respo');
        return undefined;
      }
      const body = fault.body ?? defaultBody(fault.status);
      const contentType = fault.contentType ?? (/^\s*[[{]/.test(body) ? 'application/json' : 'text/html; charset=utf-8');
      if (fault.headers) res.set(fault.headers);
      res.status(fault.status).set('Content-Type', contentType).send(body);
      return undefined;
    };
  }
}

/** The `echo` fault: quotes the raw credentials and body back, as a careless provider might. */
function echoRequest(req: Request, res: Response): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= 65_536) chunks.push(chunk);
  });
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    res.status(400).json({ error: 'invalid_request', error_description: `Received authorization=${req.get('authorization') ?? ''} body=${body}` });
  });
}

/** What a load balancer in front of the provider answers: HTML, not OAuth JSON. */
function defaultBody(status: number): string {
  return `<!doctype html><html><head><title>${status}</title></head><body><h1>${status}</h1><p>Injected by the Fractal ID sandbox.</p></body></html>`;
}

function checkEndpoint(value: unknown): SandboxFaultEndpoint {
  if (typeof value === 'string' && (ENDPOINTS as readonly string[]).includes(value)) return value as SandboxFaultEndpoint;
  throw new SandboxError('invalid_fault', `endpoint must be one of ${ENDPOINTS.join(', ')}`);
}

/** Validates a fault from code or from the admin API's JSON. */
export function checkFault(value: unknown): SandboxFault {
  if (typeof value !== 'object' || value === null) throw new SandboxError('invalid_fault', 'fault must be an object with a kind');
  const fault = value as Record<string, unknown>;
  const times = fault.times;
  if (times !== undefined && !(Number.isInteger(times) && (times as number) > 0)) {
    throw new SandboxError('invalid_fault', 'times must be a positive integer');
  }
  const withTimes = <T extends SandboxFault>(f: T): T => (times === undefined ? f : { ...f, times: times as number });
  switch (fault.kind) {
    case 'status': {
      const status = fault.status;
      if (!Number.isInteger(status) || (status as number) < 200 || (status as number) > 599) {
        throw new SandboxError('invalid_fault', 'status must be an HTTP status between 200 and 599');
      }
      if (fault.body !== undefined && typeof fault.body !== 'string') throw new SandboxError('invalid_fault', 'body must be a string');
      if (fault.contentType !== undefined && typeof fault.contentType !== 'string') {
        throw new SandboxError('invalid_fault', 'contentType must be a string');
      }
      const headers = fault.headers;
      if (
        headers !== undefined &&
        (typeof headers !== 'object' || headers === null || Object.values(headers).some((v) => typeof v !== 'string'))
      ) {
        throw new SandboxError('invalid_fault', 'headers must be an object of strings');
      }
      const result: SandboxFault = { kind: 'status', status: status as number };
      // e.g. Retry-After on a 429 or 503 (RFC 9110 section 10.2.3).
      if (headers !== undefined) result.headers = { ...(headers as Record<string, string>) };
      if (fault.body !== undefined) result.body = fault.body as string;
      if (fault.contentType !== undefined) result.contentType = fault.contentType as string;
      return withTimes(result);
    }
    case 'delay': {
      const ms = fault.ms;
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_DELAY_MS) {
        throw new SandboxError('invalid_fault', `ms must be a number of milliseconds from 0 to ${MAX_DELAY_MS}`);
      }
      return withTimes({ kind: 'delay', ms });
    }
    case 'reset':
      return withTimes({ kind: 'reset' });
    case 'invalid-json':
      return withTimes({ kind: 'invalid-json' });
    case 'lost-answer':
      return withTimes({ kind: 'lost-answer' });
    case 'echo':
      return withTimes({ kind: 'echo' });
    default:
      throw new SandboxError('invalid_fault', 'kind must be one of status, delay, reset, invalid-json, lost-answer, echo');
  }
}
