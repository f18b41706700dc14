import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ErrorCode } from '../lib/errors/codes';
import { ProviderError } from '../lib/errors/provider-error';
import { providerRequest } from '../lib/provider/http';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const SECRET = 'client_secret=very-secret-value&code=auth-code-123';

let server: Server;
let base: string;
let handler: Handler;
const sockets = new Set<Socket>();
let connections = 0;
let closed: Socket[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => handler(req, res, body));
  });
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      closed.push(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  connections = 0;
  closed = [];
});

async function providerError(promise: Promise<unknown>): Promise<ProviderError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProviderError);
  const text = `${(err as Error).message} ${JSON.stringify(err)}`;
  expect(text).not.toContain('very-secret-value');
  expect(text).not.toContain('auth-code-123');
  expect(text).not.toContain('Bearer');
  return err as ProviderError;
}

const waitFor = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
};

describe('providerRequest', () => {
  it('sends the body with its length and accept: application/json, parses JSON, exposes headers', async () => {
    let seen: { headers: IncomingMessage['headers']; body: string; method?: string } | undefined;
    handler = (req, res, body) => {
      seen = { headers: req.headers, body, method: req.method };
      res.writeHead(200, { 'content-type': 'application/json', 'retry-after': '3', 'x-multi': ['a', 'b'] });
      res.end(JSON.stringify({ ok: 'é' }));
    };
    const body = 'name=é&x=1';
    const res = await providerRequest({
      endpoint: 'token',
      url: `${base}/oauth/token`,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    expect(res).toMatchObject({ status: 200, json: { ok: 'é' }, invalidJson: false });
    expect(res.headers.get('retry-after')).toBe('3');
    expect(res.headers.get('Content-Type')).toBe('application/json');
    expect(res.headers.get('x-multi')).toBe('a, b');
    expect(res.headers.get('missing')).toBeNull();
    expect(seen?.method).toBe('POST');
    expect(seen?.body).toBe(body);
    expect(seen?.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(seen?.headers.accept).toBe('application/json');
    expect(seen?.headers['content-type']).toBe('application/x-www-form-urlencoded');
  });

  it('reuses one keep-alive connection for sequential requests', async () => {
    const used = new Set<Socket>();
    handler = (req, res) => {
      used.add(req.socket);
      res.end('{}');
    };
    for (let i = 0; i < 5; i++) await providerRequest({ endpoint: 'users/me', url: `${base}/v2/users/me`, method: 'GET' });
    expect(used.size).toBe(1);
    expect(connections).toBeLessThanOrEqual(1);
  });

  it('empty body -> json undefined; invalid JSON -> invalidJson', async () => {
    handler = (_req, res) => res.writeHead(204).end();
    expect(await providerRequest({ endpoint: 'e', url: `${base}/`, method: 'GET' })).toMatchObject({ status: 204, json: undefined, invalidJson: false });
    handler = (_req, res) => res.writeHead(502).end('<html>bad gateway</html>');
    expect(await providerRequest({ endpoint: 'e', url: `${base}/`, method: 'GET' })).toMatchObject({ status: 502, json: undefined, invalidJson: true });
  });

  it('does not follow redirects', async () => {
    handler = (_req, res) => res.writeHead(302, { location: '/elsewhere' }).end();
    const res = await providerRequest({ endpoint: 'e', url: `${base}/`, method: 'GET' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/elsewhere');
  });

  it('times out (provider_timeout) and destroys the socket', async () => {
    handler = () => undefined; // never answers
    const started = Date.now();
    const err = await providerError(providerRequest({ endpoint: 'token', url: `${base}/`, method: 'POST', body: SECRET, timeoutMs: 100 }));
    expect(err.code).toBe(ErrorCode.PROVIDER_TIMEOUT);
    expect(Date.now() - started).toBeLessThan(2_000);
    await waitFor(() => closed.length === 1);
  });

  it('times out while the body is still streaming', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('{"a":');
    };
    const err = await providerError(providerRequest({ endpoint: 'e', url: `${base}/`, method: 'GET', timeoutMs: 100 }));
    expect(err.code).toBe(ErrorCode.PROVIDER_TIMEOUT);
    await waitFor(() => closed.length === 1);
  });

  it('refuses a declared oversize answer and destroys the socket', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': String(2 * 1024 * 1024) });
      res.write('x');
    };
    const err = await providerError(providerRequest({ endpoint: 'e', url: `${base}/`, method: 'GET' }));
    expect(err.code).toBe(ErrorCode.INVALID_PROVIDER_RESPONSE);
    expect(err.providerStatus).toBe(200);
    await waitFor(() => closed.length === 1);
  });

  it('refuses a streamed (chunked) oversize answer and destroys the socket', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      const chunk = 'x'.repeat(64 * 1024);
      for (let i = 0; i < 17; i++) res.write(chunk);
      res.end();
    };
    const err = await providerError(providerRequest({ endpoint: 'e', url: `${base}/`, method: 'GET' }));
    expect(err.code).toBe(ErrorCode.INVALID_PROVIDER_RESPONSE);
    await waitFor(() => closed.length === 1);
  });

  it('accepts exactly 1 MiB', async () => {
    handler = (_req, res) => res.end(`"${'x'.repeat(1024 * 1024 - 2)}"`);
    const res = await providerRequest({ endpoint: 'e', url: `${base}/`, method: 'GET' });
    expect((res.json as string).length).toBe(1024 * 1024 - 2);
  });

  it('maps a reset to provider_unavailable (ECONNRESET), without secrets', async () => {
    handler = (req) => req.socket.destroy();
    const err = await providerError(
      providerRequest({ endpoint: 'token', url: `${base}/`, method: 'POST', headers: { authorization: 'Bearer tok' }, body: SECRET }),
    );
    expect(err.code).toBe(ErrorCode.PROVIDER_UNAVAILABLE);
    expect(err.message).toContain('ECONNRESET');
  });

  it('maps a reset in the middle of the body to provider_unavailable', async () => {
    handler = (req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('{"a":', () => req.socket.destroy());
    };
    const err = await providerError(providerRequest({ endpoint: 'e', url: `${base}/`, method: 'GET' }));
    expect(err.code).toBe(ErrorCode.PROVIDER_UNAVAILABLE);
    expect(err.message).toContain('ECONNRESET');
  });

  it('maps a refused connection to provider_unavailable (ECONNREFUSED)', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const err = await providerError(providerRequest({ endpoint: 'token', url: `http://127.0.0.1:${port}/`, method: 'POST', body: SECRET }));
    expect(err.code).toBe(ErrorCode.PROVIDER_UNAVAILABLE);
    expect(err.message).toBe('Fractal ID token endpoint could not be reached (ECONNREFUSED)');
  });

  it('maps an invalid URL to provider_unavailable', async () => {
    const err = await providerError(providerRequest({ endpoint: 'e', url: 'not a url', method: 'GET' }));
    expect(err.code).toBe(ErrorCode.PROVIDER_UNAVAILABLE);
  });
});
