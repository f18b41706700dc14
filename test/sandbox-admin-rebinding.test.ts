import { request } from 'node:http';
import { startSandbox, type Sandbox } from '../lib/sandbox';

/** Raw HTTP, because fetch does not let a caller choose the Host header (a rebinding browser does). */
function adminGet(sandbox: Sandbox, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const url = new URL(`${sandbox.domains.auth}/_sandbox/counts`);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('sandbox admin API against DNS rebinding', () => {
  let sandbox: Sandbox;
  let port: string;
  beforeAll(async () => {
    sandbox = await startSandbox();
    port = new URL(sandbox.domains.auth).port;
  });
  afterAll(() => sandbox.close());

  it.each(['127.0.0.1', '127.8.9.10', 'localhost', 'LOCALHOST', '[::1]'])('answers a loopback Host %s (with and without port)', async (host) => {
    expect((await adminGet(sandbox, { host: `${host}:${port}` })).status).toBe(200);
    expect((await adminGet(sandbox, { host })).status).toBe(200);
  });

  it.each(['attacker.example', `attacker.example:${'PORT'}`, '127.0.0.1.attacker.example', 'localhost.attacker.example', '128.0.0.1', '127.0.0.256', '[::2]'])(
    'refuses Host %s with 403',
    async (host) => {
      const res = await adminGet(sandbox, { host: host.replace('PORT', port) });
      expect(res.status).toBe(403);
      expect(JSON.parse(res.body)).toMatchObject({ error: 'forbidden' });
    },
  );

  it('refuses a foreign Origin even with a loopback Host, and accepts its own origins', async () => {
    for (const origin of ['http://attacker.example', 'http://127.0.0.1:1', 'null']) {
      expect((await adminGet(sandbox, { host: `127.0.0.1:${port}`, origin })).status).toBe(403);
    }
    expect((await adminGet(sandbox, { host: `127.0.0.1:${port}`, origin: new URL(sandbox.domains.auth).origin })).status).toBe(200);
  });
});
