import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { createFractal, createFractalVault, generateEncryptionKey, MemoryTokenStore } from '../lib';
import { expired, startVaultSandbox, REDIRECT_URI, type VaultSandbox } from './helpers/vault-sandbox';

/** A CONNECT proxy on loopback that records every tunnel's target. */
async function startConnectProxy(): Promise<{ port: number; tunnels: string[]; close(): Promise<void> }> {
  const tunnels: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req: http.IncomingMessage, client: net.Socket) => {
    const target = req.url ?? '';
    tunnels.push(target);
    const [host, port] = target.split(':');
    if (host !== '127.0.0.1' && host !== 'localhost') return void client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    tunnels,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** What an app would use for an egress proxy (e.g. https-proxy-agent): every socket is a CONNECT tunnel. */
class TunnelAgent extends http.Agent {
  constructor(private readonly proxyPort: number) {
    super({ keepAlive: false });
  }
  override createConnection(options: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): undefined {
    const socket = net.connect(this.proxyPort, '127.0.0.1');
    socket.once('error', (err) => callback?.(err, socket));
    socket.once('connect', () => socket.write(`CONNECT ${options.host}:${options.port} HTTP/1.1\r\nHost: ${options.host}:${options.port}\r\n\r\n`));
    socket.once('data', (chunk) => {
      if (/^HTTP\/1\.1 200/.test(chunk.toString('latin1'))) callback?.(null, socket);
      else callback?.(new Error(`proxy refused: ${chunk.toString('latin1').split('\r\n')[0]}`), socket);
    });
    return undefined;
  }
}

describe('agents: every provider call through the app\'s own agents', () => {
  let env: VaultSandbox;
  beforeAll(async () => {
    env = await startVaultSandbox();
  });
  afterAll(() => env.close());

  test('through a CONNECT proxy on loopback: token endpoint, users/me and the back-office token all tunnel', async () => {
    const proxy = await startConnectProxy();
    try {
      const fractal = createFractal({
        ...env.client,
        domains: env.sandbox.domains,
        callbackURL: REDIRECT_URI,
        encryptionKeys: generateEncryptionKey(),
        agents: { http: new TunnelAgent(proxy.port) },
      });
      const { uid, tokenSet } = await env.signIn();
      await fractal.vault.saveTokens(uid, expired(tokenSet));
      expect((await fractal.vault.fetchUser(uid)).uid).toBe(uid);
      await fractal.client.getAppToken();
      const auth = new URL(env.sandbox.domains.auth).host;
      const resource = new URL(env.sandbox.domains.resource).host;
      // refresh, users/me, client credentials: nothing went around the proxy.
      expect(proxy.tunnels).toEqual([auth, resource, auth]);
      await fractal.close();
    } finally {
      await proxy.close();
    }
  });

  test('without agents nothing goes through the proxy (the control)', async () => {
    const proxy = await startConnectProxy();
    try {
      const fractal = createFractal({ ...env.client, domains: env.sandbox.domains, callbackURL: REDIRECT_URI, encryptionKeys: generateEncryptionKey() });
      await fractal.client.getAppToken();
      expect(proxy.tunnels).toEqual([]);
      await fractal.close();
    } finally {
      await proxy.close();
    }
  });

  test('a private CA: the token endpoint behind TLS with a self-signed CA (openssl) is trusted only with the agent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pfi-ca-'));
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    let server: https.Server | undefined;
    try {
      openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=pfi test CA');
      openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
      writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
      openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext');
      const ca = readFileSync(join(dir, 'ca.pem'));
      // TLS in front of the sandbox's auth origin, as a bank's internal gateway would be.
      const upstream = new URL(env.sandbox.domains.auth);
      server = https.createServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) }, (req, res) => {
        const forward = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        req.pipe(forward);
      });
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      const domains = { ...env.sandbox.domains, auth: `https://127.0.0.1:${(server.address() as AddressInfo).port}` };
      const { uid, tokenSet } = await env.signIn();
      const key = generateEncryptionKey();
      const untrusting = createFractalVault({ ...env.client, domains, store: new MemoryTokenStore(), encryptionKeys: key, retry: { attempts: 1 }, refreshBackoff: false });
      await untrusting.saveTokens(uid, expired(tokenSet));
      await expect(untrusting.getAccessToken(uid)).rejects.toMatchObject({ code: 'provider_unavailable' });
      const trusting = createFractalVault({ ...env.client, domains, store: new MemoryTokenStore(), encryptionKeys: key, agents: { https: new https.Agent({ ca }) } });
      await trusting.saveTokens(uid, expired(tokenSet));
      expect(await trusting.getAccessToken(uid)).not.toBe(tokenSet.accessToken);
    } finally {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('agents that are not agents are refused by name', () => {
    expect(() => createFractalVault({ ...env.client, store: new MemoryTokenStore(), encryptionKeys: generateEncryptionKey(), agents: { https: {} as https.Agent } })).toThrow(/`agents`/);
  });
});
