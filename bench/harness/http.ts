import { Agent, request, type IncomingHttpHeaders } from 'node:http';

/**
 * A small HTTP/1.1 client on node:http for the flows autocannon cannot drive (multi-step sign-ins,
 * one-shot storms). Loopback only; every request has a timeout.
 */
export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface HttpOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  headers?: Record<string, string>;
  body?: string;
  agent?: Agent;
  timeoutMs?: number;
}

export function httpRequest(url: string, options: HttpOptions = {}): Promise<HttpAnswer> {
  const target = new URL(url);
  if (target.hostname !== '127.0.0.1') return Promise.reject(new Error(`benchmarks talk to 127.0.0.1 only, not ${target.hostname}`));
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    const req = request(
      {
        host: '127.0.0.1',
        port: target.port,
        path: target.pathname + target.search,
        method: options.method ?? 'GET',
        headers,
        agent: options.agent,
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${options.timeoutMs ?? 30_000} ms: ${options.method ?? 'GET'} ${target.pathname}`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The `name=value` part of a Set-Cookie header for `name`, if the answer sets it. */
export function cookieFrom(answer: HttpAnswer, name: string): string | undefined {
  for (const line of answer.headers['set-cookie'] ?? []) {
    if (line.startsWith(`${name}=`)) return line.split(';')[0];
  }
  return undefined;
}

export async function postJson<T>(url: string, body: unknown): Promise<T> {
  const answer = await httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (answer.status >= 300) throw new Error(`POST ${new URL(url).pathname}: ${answer.status} ${answer.body}`);
  return (answer.body === '' ? undefined : JSON.parse(answer.body)) as T;
}

export async function getJson<T>(url: string): Promise<T> {
  const answer = await httpRequest(url);
  if (answer.status >= 300) throw new Error(`GET ${new URL(url).pathname}: ${answer.status} ${answer.body}`);
  return JSON.parse(answer.body) as T;
}
