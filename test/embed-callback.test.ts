import express, { type NextFunction, type Request, type Response } from 'express';
import passport from 'passport';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { FractalStrategy, ConfigurationError, fractalEmbedScript, isFractalError } from '../lib';
import { FRACTAL_EMBED_SCRIPT_PATH, MAX_CALLBACK_BODY_BYTES } from '../lib/strategy';
import { CALLBACK_PATH, buildApp, callbackPathOf, newAgent, startSignIn, type TestApp } from './helpers/app';

/**
 * The embedded journey's POST callback (lib/strategy/form-post.ts): the page POSTs the `{code,
 * state}` the Fractal ID frame sent it. Same one-time, session-bound state as the redirect
 * callback, plus the app's own Origin; driven over HTTP against the sandbox.
 */
let sandbox: Sandbox;
const APP_ORIGIN = 'http://127.0.0.1:3999';

beforeAll(async () => {
  sandbox = await startSandbox();
});

afterAll(async () => {
  await sandbox.close();
});

/** buildApp's app plus the POST route, answering like its GET route (JSON outcome). */
function embedApp(options: Parameters<typeof buildApp>[1] & { parser?: 'urlencoded' | 'json' } = {}): TestApp {
  const built = buildApp(sandbox, options);
  const auth = new passport.Passport();
  auth.use(built.strategy);
  auth.serializeUser((user, done) => done(null, user));
  const handler = (req: Request, res: Response, next: NextFunction) =>
    auth.authenticate(built.strategy.name, (err: unknown, user: Express.User | false, info: { code?: string } | undefined, status?: number) => {
      if (err) res.status(isFractalError(err) ? err.status : 500).json({ outcome: 'error', code: isFractalError(err) ? err.code : 'unknown' });
      else if (!user) res.status(status ?? 401).json({ outcome: 'fail', code: info?.code });
      else req.logIn(user, (loginErr) => (loginErr ? next(loginErr) : res.json({ outcome: 'success', user })));
    })(req, res, next);
  if (options.parser === 'urlencoded') built.app.post(CALLBACK_PATH, express.urlencoded({ extended: false }), handler);
  else if (options.parser === 'json') built.app.post(CALLBACK_PATH, express.json(), handler);
  else built.app.post(CALLBACK_PATH, handler);
  return built;
}

/** Starts a sign-in in this agent's session and lets the sandbox approve it: the frame's message. */
async function frameMessage(agent: TestAgent): Promise<{ code: string; state: string; location: string }> {
  const location = await sandbox.authorize(await startSignIn(agent));
  const query = new URL(location).searchParams;
  return { code: query.get('code')!, state: query.get('state')!, location };
}

/** `origin: null` sends no Origin header at all. */
function postForm(agent: TestAgent, body: string, origin: string | null = APP_ORIGIN) {
  const req = agent.post(CALLBACK_PATH).set('Content-Type', 'application/x-www-form-urlencoded');
  if (origin !== null) req.set('Origin', origin);
  return req.send(body);
}

describe('POST callback of the embedded journey', () => {
  it('signs in from a form POST of {code, state} from the app origin, without any body parser', async () => {
    const { app } = embedApp();
    const agent = newAgent(app);
    const { code, state } = await frameMessage(agent);
    const res = await postForm(agent, new URLSearchParams({ code, state }).toString());
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('success');
    expect((await agent.get('/me')).body.user).toEqual(res.body.user);
  });

  it('accepts a JSON body, and a body already parsed by express.urlencoded or express.json', async () => {
    for (const parser of [undefined, 'urlencoded', 'json'] as const) {
      const { app } = embedApp({ parser });
      const agent = newAgent(app);
      const { code, state } = await frameMessage(agent);
      const res =
        parser === 'urlencoded'
          ? await postForm(agent, new URLSearchParams({ code, state }).toString())
          : await agent.post(CALLBACK_PATH).set('Origin', APP_ORIGIN).send({ code, state, sub1: code });
      expect([parser, res.status, res.body.outcome]).toEqual([parser, 200, 'success']);
    }
  });

  it('is one-time: a replayed POST, and the redirect callback of the same state, are refused', async () => {
    const { app, verified } = embedApp();
    const agent = newAgent(app);
    const { code, state, location } = await frameMessage(agent);
    const body = new URLSearchParams({ code, state }).toString();
    expect((await postForm(agent, body)).status).toBe(200);
    const exchanges = sandbox.counts().token.authorization_code;
    // A replay never completes a sign-in nor reaches the token endpoint, by POST or by GET (a
    // signed-in browser may be sent to its page instead of a 403: the strategy's replay rule).
    for (const replay of [await postForm(agent, body), await agent.get(callbackPathOf(location))]) {
      expect(replay.body.outcome).not.toBe('success');
      expect([302, 403]).toContain(replay.status);
    }
    expect(sandbox.counts().token.authorization_code).toBe(exchanges);
    expect(verified).toHaveLength(1);
    // Another browser replaying the same POST: 403 invalid_state.
    const other = await postForm(newAgent(app), body);
    expect([other.status, other.body.code]).toEqual([403, 'invalid_state']);
  });

  it('is bound to the browser: the state of another session is refused', async () => {
    const { app } = embedApp();
    const { code, state } = await frameMessage(newAgent(app));
    const other = newAgent(app);
    await other.get('/me');
    const res = await postForm(other, new URLSearchParams({ code, state }).toString());
    expect([res.status, res.body.code]).toEqual([403, 'invalid_state']);
  });

  it('refuses another Origin, a null Origin and no Origin with 403 invalid_origin, leaving the state usable', async () => {
    const { app, verified } = embedApp();
    const agent = newAgent(app);
    const { code, state } = await frameMessage(agent);
    const body = new URLSearchParams({ code, state }).toString();
    for (const origin of ['https://evil.example', 'null', 'http://127.0.0.1:3998', `${APP_ORIGIN}/`, null]) {
      const res = await postForm(agent, body, origin);
      expect([origin, res.status, res.body.code]).toEqual([origin, 403, 'invalid_origin']);
    }
    expect(verified).toHaveLength(0);
    // Checked before the state: the genuine POST still completes.
    expect((await postForm(agent, body)).status).toBe(200);
  });

  it('answers 400 invalid_callback to missing, repeated, foreign or oversized fields', async () => {
    const { app, verified } = embedApp();
    const agent = newAgent(app);
    const { code, state } = await frameMessage(agent);
    const bad: Array<[string, string, string?]> = [
      ['no code', new URLSearchParams({ state }).toString()],
      ['no state', new URLSearchParams({ code }).toString()],
      ['empty state', new URLSearchParams({ code, state: '' }).toString()],
      ['empty body', ''],
      ['repeated code', `code=${code}&code=x&state=${state}`],
      ['an error field', new URLSearchParams({ code, state, error: 'access_denied' }).toString()],
      ['too large', new URLSearchParams({ code, state, pad: 'x'.repeat(MAX_CALLBACK_BODY_BYTES) }).toString()],
      ['text/plain', new URLSearchParams({ code, state }).toString(), 'text/plain'],
    ];
    for (const [name, body, type] of bad) {
      const res = await agent
        .post(CALLBACK_PATH)
        .set('Origin', APP_ORIGIN)
        .set('Content-Type', type ?? 'application/x-www-form-urlencoded')
        .send(body);
      expect([name, res.status, res.body.code]).toEqual([name, 400, 'invalid_callback']);
    }
    for (const [name, json] of [
      ['JSON array', '[1]'],
      ['JSON with a numeric code', JSON.stringify({ code: 1, state })],
      ['broken JSON', '{"code":'],
    ]) {
      const res = await agent.post(CALLBACK_PATH).set('Origin', APP_ORIGIN).set('Content-Type', 'application/json').send(json);
      expect([name, res.status, res.body.code]).toEqual([name, 400, 'invalid_callback']);
    }
    expect(verified).toHaveLength(0);
    // None of these consumed the state.
    expect((await postForm(agent, new URLSearchParams({ code, state }).toString())).status).toBe(200);
  });

  it('accepts the origins given in callbackPostOrigins instead of the callback URL origin', async () => {
    const { app } = embedApp({ strategy: { callbackPostOrigins: ['https://www.example.com'] } });
    const agent = newAgent(app);
    const { code, state } = await frameMessage(agent);
    const body = new URLSearchParams({ code, state }).toString();
    expect((await postForm(agent, body)).body.code).toBe('invalid_origin');
    expect((await postForm(agent, body, 'https://www.example.com')).status).toBe(200);
  });

  it('treats a POST to another path as a sign-in start, not a callback', async () => {
    const { app, strategy } = buildApp(sandbox);
    const auth = new passport.Passport();
    auth.use(strategy);
    app.post('/auth/fractal', auth.authenticate(strategy.name));
    const res = await request(app).post('/auth/fractal').set('Origin', 'https://evil.example').type('form').send('code=x&state=y');
    expect(res.status).toBe(302);
    expect(res.headers.location).toContain(`${sandbox.domains.frontend}/authorize`);
  });

  it('refuses callbackPostOrigins that are not exact origins', () => {
    const base = { clientID: 'a', clientSecret: 'b', callbackURL: 'https://app.example.com/cb' };
    for (const origins of [[], ['https://app.example.com/'], ['app.example.com'], ['ftp://app.example.com']]) {
      expect(() => new FractalStrategy({ ...base, callbackPostOrigins: origins }, () => undefined)).toThrow(ConfigurationError);
    }
  });
});

describe('method and currency authorization parameters', () => {
  const base = () => ({ clientID: 'a', clientSecret: 'b', callbackURL: 'https://app.example.com/cb' });

  it('sends the strategy options, overridden per request', async () => {
    const { app, strategy } = buildApp(sandbox, { strategy: { method: 'wallet', currency: 'eth' } });
    const auth = new passport.Passport();
    auth.use(strategy);
    app.get('/auth/email', auth.authenticate(strategy.name, { method: 'email', currency: 'kar' }));
    const url = new URL(await startSignIn(newAgent(app)));
    expect([url.searchParams.get('method'), url.searchParams.get('currency')]).toEqual(['wallet', 'eth']);
    const other = new URL(await startSignIn(newAgent(app), '/auth/email'));
    expect([other.searchParams.get('method'), other.searchParams.get('currency')]).toEqual(['email', 'kar']);
    // The sandbox accepts them as the journey URL does (user-integration/embedded-journey-iframe.md).
    expect(new URL(await sandbox.authorize(other.href)).searchParams.get('code')).toBeTruthy();
  });

  it('sends neither by default', async () => {
    const { app } = buildApp(sandbox);
    const url = new URL(await startSignIn(newAgent(app)));
    expect(url.searchParams.has('method')).toBe(false);
    expect(url.searchParams.has('currency')).toBe(false);
  });

  it('refuses undocumented values at construction with a ConfigurationError', () => {
    for (const bad of [{ method: 'sms' }, { currency: 'btc' }, { method: 'Wallet' }, { currency: '' }]) {
      expect(() => new FractalStrategy({ ...base(), ...(bad as object) }, () => undefined)).toThrow(ConfigurationError);
    }
    expect(() => new FractalStrategy({ ...base(), method: 'phone', currency: 'kar' }, () => undefined)).not.toThrow();
  });

  it('refuses an undocumented value per request with a typed 400, before any redirect', async () => {
    const { app, strategy } = buildApp(sandbox);
    const auth = new passport.Passport();
    auth.use(strategy);
    app.get('/auth/bad', (req, res, next) => auth.authenticate(strategy.name, { method: req.query.method as 'email' })(req, res, next));
    app.use((err: { code?: string; status?: number }, _req: Request, res: Response, _next: NextFunction) => {
      void _next;
      res.status(err.status ?? 500).json({ code: err.code });
    });
    const res = await request(app).get('/auth/bad?method=carrier-pigeon');
    expect([res.status, res.body.code]).toEqual([400, 'invalid_journey_option']);
    expect(res.headers.location).toBeUndefined();
  });
});

describe('fractalEmbedScript', () => {
  it('serves the shipped browser script as JavaScript with nosniff', async () => {
    const app = express();
    app.get('/fractal-embed.js', fractalEmbedScript());
    const res = await request(app).get('/fractal-embed.js');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.text).toContain('allow-popups-to-escape-sandbox');
    expect(FRACTAL_EMBED_SCRIPT_PATH).toMatch(/browser[\\/]fractal-embed\.js$/);
  });
});
