import { randomBytes, createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import express, { type Express } from 'express';
import type { Sandbox, SandboxCredentials } from '../../lib/sandbox';

/**
 * Leak detection for the hardening tests: everything an error or a log line could carry to an
 * operator's screen, a log pipeline or a browser, collected as text and searched for secrets.
 */

/** Every rendering of an error a logger or an app could produce, including its whole cause chain. */
export function renderingsOf(err: unknown): string[] {
  const out: string[] = [];
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current !== undefined && current !== null && !seen.has(current)) {
    seen.add(current);
    out.push(String(current));
    out.push(inspect(current, { depth: Infinity, showHidden: true, getters: true }));
    try {
      out.push(JSON.stringify(current) ?? '');
    } catch {
      // circular structures: inspect above already rendered them
    }
    if (typeof current === 'object') {
      const record = current as Record<string, unknown>;
      for (const field of ['message', 'description', 'stack', 'error', 'uri']) {
        if (typeof record[field] === 'string') out.push(record[field] as string);
      }
      current = record.cause;
    } else {
      current = undefined;
    }
  }
  return out;
}

/** Records what the process writes (stdout, stderr) and what console methods receive (jest buffers console). */
export interface OutputCapture {
  text(): string;
  restore(): void;
}

export function captureOutput(): OutputCapture {
  const chunks: string[] = [];
  const spies = [
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
      chunks.push(String(chunk));
      return true;
    }),
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
      chunks.push(String(chunk));
      return true;
    }),
    ...(['log', 'info', 'warn', 'error', 'debug', 'trace'] as const).map((method) =>
      jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        chunks.push(args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: Infinity, showHidden: true }))).join(' '));
      }),
    ),
  ];
  return {
    text: () => chunks.join('\n'),
    restore: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}

/**
 * Asserts that none of `secrets` (client secret, tokens, codes, verifiers) appears in any of
 * `texts`, also URL-encoded or base64-encoded (how a secret travels in a form body or Basic header).
 */
export function expectNoSecrets(texts: readonly string[], secrets: Record<string, string | undefined>): void {
  const haystack = texts.join('\n');
  const leaks: string[] = [];
  for (const [name, secret] of Object.entries(secrets)) {
    if (!secret) continue;
    for (const form of new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')])) {
      if (haystack.includes(form)) leaks.push(name);
    }
  }
  expect(leaks).toEqual([]);
}

/** Runs `fn`, returning what it threw (or resolved with), for assertions on error objects. */
export async function caught(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    return { resolved: await fn() };
  } catch (err) {
    return err;
  }
}

/** A real HTTP peer on loopback that answers every request with the answer `route` chooses. */
export interface TinyProvider {
  url: string;
  requests: { method: string; path: string }[];
  close(): Promise<void>;
}

export async function startTinyProvider(route: (app: Express) => void): Promise<TinyProvider> {
  const requests: TinyProvider['requests'] = [];
  const app = express();
  app.use((req, _res, next) => {
    requests.push({ method: req.method, path: req.path });
    next();
  });
  route(app);
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An authorization code obtained at the sandbox without a browser, with its PKCE verifier. */
export interface ObtainedCode {
  code: string;
  codeVerifier: string;
  redirectUri: string;
}

export async function obtainCode(
  sandbox: Sandbox,
  client: SandboxCredentials,
  redirectUri: string,
  options: { email?: string; scopes?: string[] } = {},
): Promise<ObtainedCode> {
  const codeVerifier = randomBytes(32).toString('base64url');
  const url = new URL(`${sandbox.domains.frontend}/authorize`);
  url.search = new URLSearchParams({
    client_id: client.clientID,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: (options.scopes ?? ['uid:read']).join(' '),
    state: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(codeVerifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const location = new URL(await sandbox.authorize(url.href, { email: options.email ?? `u-${randomBytes(4).toString('hex')}@example.com` }));
  const code = location.searchParams.get('code');
  if (!code) throw new Error(`The sandbox did not approve: ${location.href}`);
  return { code, codeVerifier, redirectUri };
}

/** The `name=value` pair of a Set-Cookie header for `name`, if the answer set it. */
export function cookieOf(setCookie: string | string[] | undefined, name: string): string | undefined {
  const list = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie];
  return list.find((c) => c.startsWith(`${name}=`))?.split(';')[0];
}
