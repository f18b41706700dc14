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
/** How this run's genuine authorization response, if any, is tampered with before it is replayed. */
const tamper = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 8 }).map((n) => ({ kind: 'truncate-code' as const, n })) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 3 }).map((extra) => ({ kind: 'extend-code' as const, extra })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 1000 }).map((seed) => ({ kind: 'flip-code' as const, seed })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 8 }).map((n) => ({ kind: 'truncate-state' as const, n })) },
  // Code and state of two different pending sign-ins of this same session (PKCE binds each code to its verifier).
  { weight: 1, arbitrary: fc.constant({ kind: 'swap-code' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'swap-state' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'drop-code' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'drop-state' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'repeat-code' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'repeat-state' as const }) },
);
const query = fc.record({
  pairs: fc.oneof({ weight: 1, arbitrary: fc.constant([] as [string, string][]) }, { weight: 2, arbitrary: fc.array(fc.tuple(key, value), { maxLength: 8 }) }),
  /** none: no genuine parameter; state: this session's pending state; code: a real code and its state from the sandbox. */
  genuine: fc.oneof(
    { weight: 4, arbitrary: fc.constant('none' as const) },
    { weight: 1, arbitrary: fc.constant('state' as const) },
    { weight: 1, arbitrary: fc.constant('code' as const) },
  ),
  tamper,
  genuineFirst: fc.boolean(),
  raw: fc.option(fc.stringMatching(/^[%a-zA-Z0-9=&[\]._~-]{0,40}$/), { freq: 5 }),
});

const FIELDS = ['code', 'state', 'error', 'error_description', 'error_uri'];

interface Jar {
  cookie?: string;
}

async function get(path: string, jar: Jar): Promise<Response> {
  const res = await fetch(base + path, { redirect: 'manual', headers: jar.cookie ? { cookie: jar.cookie } : {} });
  const set = res.headers.get('set-cookie');
  if (set) jar.cookie = set.split(';')[0];
  return res;
}

/** Starts a sign-in in this jar and returns its pending state and the authorize URL. */
async function startPending(jar: Jar): Promise<{ state: string; authorizeUrl: string }> {
  const start = await get('/auth/fractal', jar);
  const authorizeUrl = start.headers.get('location')!;
  return { state: new URL(authorizeUrl).searchParams.get('state')!, authorizeUrl };
}

/** A genuine authorization response for a pending sign-in: the sandbox approves, as a user would. */
async function approve(pending: { authorizeUrl: string }): Promise<{ code: string; state: string }> {
  const location = new URL(await sandbox.authorize(pending.authorizeUrl));
  return { code: location.searchParams.get('code')!, state: location.searchParams.get('state')! };
}

function flip(text: string, seed: number): string {
  const at = seed % text.length;
  const c = text[at] === 'A' ? 'B' : 'A';
  return text.slice(0, at) + c + text.slice(at + 1);
}

describe('callback query strings (property)', () => {
  it('never crash, never 5xx without a genuine state, never sign anyone in but with the untampered code and state', async () => {
    let jar: Jar = {};
    let signIns = 0;
    let untampered = 0;
    await fc.assert(
      fc.asyncProperty(query, async ({ pairs, genuine, tamper, genuineFirst, raw }) => {
        const params = new URLSearchParams();
        const own: [string, string][] = [];
        let response: { code: string; state: string } | undefined;
        if (genuine === 'state') {
          own.push(['state', (await startPending(jar)).state]);
        } else if (genuine === 'code') {
          const pending = await startPending(jar);
          response = await approve(pending);
          let { code, state } = response;
          if (tamper.kind === 'swap-code' || tamper.kind === 'swap-state') {
            const second = await approve(await startPending(jar));
            if (tamper.kind === 'swap-code') code = second.code;
            else state = second.state;
          }
          if (tamper.kind === 'truncate-code') code = code.slice(0, Math.max(1, code.length - tamper.n));
          if (tamper.kind === 'extend-code') code += tamper.extra;
          if (tamper.kind === 'flip-code') code = flip(code, tamper.seed);
          if (tamper.kind === 'truncate-state') state = state.slice(0, Math.max(1, state.length - tamper.n));
          if (tamper.kind !== 'drop-code') own.push(['code', code]);
          if (tamper.kind !== 'drop-state') own.push(['state', state]);
          if (tamper.kind === 'repeat-code') own.push(['code', code]);
          if (tamper.kind === 'repeat-state') own.push(['state', state]);
        }
        for (const [k, v] of genuineFirst ? [...own, ...pairs] : [...pairs, ...own]) params.append(k, v);
        const path = `/auth/fractal/callback?${params.toString()}${raw ? `&${raw}` : ''}`;
        const res = await get(path, jar);
        await res.arrayBuffer();
        const genuineState = genuine !== 'none';
        if (res.status >= 500) {
          const errors = params.getAll('error');
          const allowed = genuineState && errors.length === 1 && params.getAll('state').length === 1 && !params.has('code');
          if (!allowed) throw new Error(`${res.status} for ${path.slice(0, 300)}`);
          // A genuine state with a provider error: 5xx only for errors that mean the provider is failing,
          // or for codes that mean this client is misconfigured (RFC 6749 section 4.1.2.1).
          // An `error` that is no OAuth error code at all is an invalid provider answer: 502, as documented.
          const malformed = !/^[a-z0-9_.-]{1,64}$/i.test(errors[0]!);
          const expected = malformed ? 502 : 500;
          if (!PROVIDER_FAILURES.has(errors[0]!) && res.status !== expected) throw new Error(`${res.status} for error=${errors[0]}`);
        }
        if (!response) return true;
        // The whole query as the app received it, raw suffix included.
        const received = new URLSearchParams(path.slice(path.indexOf('?') + 1));
        const exact = (name: string, expected: string) => received.getAll(name).length === 1 && received.get(name) === expected;
        const clean =
          tamper.kind === 'none' && !raw && pairs.every(([k]) => !FIELDS.some((field) => k === field || k.startsWith(`${field}[`)));
        if (clean) untampered++;
        const me = (await (await get('/me', jar)).json()) as { user: unknown };
        if (me.user !== null) {
          signIns++;
          if (!exact('code', response.code) || !exact('state', response.state) || received.has('error')) {
            throw new Error(`signed in by a tampered callback: ${tamper.kind} ${path.replaceAll(response.code, '<code>').slice(0, 300)}`);
          }
          // Signed out again: a fresh session for the next runs.
          jar = {};
        } else if (clean) {
          // The fuzzer's genuine codes must be live, or "never signs anyone in" proves nothing.
          throw new Error(`an untampered genuine callback did not sign in (${res.status}): ${path.replaceAll(response.code, '<code>').slice(0, 300)}`);
        }
        return true;
      }),
      fuzzParameters(),
    );
    const me = (await (await get('/me', jar)).json()) as { user: unknown };
    expect(me.user).toBeNull();
    expect(untampered).toBeGreaterThan(0);
    // Unrelated extra parameters (iss, x, an error_description beside the code) may sign in too.
    expect(signIns).toBeGreaterThanOrEqual(untampered);
    expect(unhandled).toEqual([]);
  }, 300_000);
});
