import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import fc from 'fast-check';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { buildApp } from './helpers/app';
import { fuzzParameters } from './helpers/fuzz';

/**
 * Hostile callbacks: any mix of the authorization-response parameters, repeated, as arrays or
 * objects, empty, huge or unicode, sometimes with this session's genuine pending state. Whatever
 * arrives, the app must answer (no crash, no unhandled rejection), must never answer 5xx unless a
 * callback bearing a genuine state reports a provider failure, and must never sign anyone in.
 */
let sandbox: Sandbox;
let server: Server;
let base: string;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  sandbox = await startSandbox();
  const { app } = buildApp(sandbox);
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await new Promise((resolve) => server.close(resolve));
  await sandbox.close();
});

const PROVIDER_FAILURES = new Set(['server_error', 'temporarily_unavailable']);

const key = fc.constantFrom('code', 'state', 'error', 'error_description', 'error_uri', 'code[]', 'state[]', 'error[x]', 'code[a][b]', 'iss', 'x');
const value = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 2, arbitrary: fc.constantFrom('', 'access_denied', 'server_error', 'temporarily_unavailable', 'invalid_request', 'invalid_scope', 'x'.repeat(64)) },
  { weight: 1, arbitrary: fc.integer({ min: 4000, max: 6000 }).map((n) => 'A'.repeat(n)) },
);
const query = fc.record({
  pairs: fc.array(fc.tuple(key, value), { maxLength: 8 }),
  genuineState: fc.oneof({ weight: 1, arbitrary: fc.constant(true) }, { weight: 4, arbitrary: fc.constant(false) }),
  raw: fc.option(fc.stringMatching(/^[%a-zA-Z0-9=&[\]._~-]{0,40}$/), { freq: 5 }),
});

interface Jar {
  cookie?: string;
}

async function get(path: string, jar: Jar): Promise<Response> {
  const res = await fetch(base + path, { redirect: 'manual', headers: jar.cookie ? { cookie: jar.cookie } : {} });
  const set = res.headers.get('set-cookie');
  if (set) jar.cookie = set.split(';')[0];
  return res;
}

describe('callback query strings (property)', () => {
  it('never crash, never 5xx without a genuine state, never sign anyone in', async () => {
    const jar: Jar = {};
    await fc.assert(
      fc.asyncProperty(query, async ({ pairs, genuineState, raw }) => {
        const params = new URLSearchParams();
        for (const [k, v] of pairs) params.append(k, v);
        if (genuineState) {
          const start = await get('/auth/fractal', jar);
          const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
          params.append('state', state);
        }
        const path = `/auth/fractal/callback?${params.toString()}${raw ? `&${raw}` : ''}`;
        const res = await get(path, jar);
        await res.arrayBuffer();
        if (res.status >= 500) {
          const errors = params.getAll('error');
          const allowed = genuineState && errors.length === 1 && params.getAll('state').length === 1 && !params.has('code');
          if (!allowed) throw new Error(`${res.status} for ${path.slice(0, 300)}`);
          // A genuine state with a provider error: 5xx only for errors that mean the provider is failing,
          // or for codes that mean this client is misconfigured (RFC 6749 section 4.1.2.1).
          if (!PROVIDER_FAILURES.has(errors[0]!) && res.status !== 500) throw new Error(`${res.status} for error=${errors[0]}`);
        }
        return true;
      }),
      fuzzParameters(),
    );
    const me = (await (await get("/me", jar)).json()) as { user: unknown };
    expect(me.user).toBeNull();
    expect(unhandled).toEqual([]);
  }, 180_000);
});
