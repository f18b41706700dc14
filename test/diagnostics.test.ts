import diagnostics_channel from 'node:diagnostics_channel';
import { randomBytes } from 'node:crypto';
import express, { type Express } from 'express';
import session from 'express-session';
import passport from 'passport';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { createFractal, FRACTAL_CHANNELS, FractalClient, type Fractal, type FractalChannelMessages } from '../lib';
import { observeSignIn } from '../lib/diagnostics/sign-in';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { callbackPathOf } from './helpers/app';
import { connectRedis, deletePrefix, randomPrefix } from './helpers/redis';
import { postWebhook, SECRET, verificationBody } from './helpers/webhooks';
import type { Redis } from 'ioredis';

const CALLBACK = 'http://127.0.0.1:3999/auth/fractal/callback';

type Seen = { [K in keyof FractalChannelMessages]?: FractalChannelMessages[K][] };

describe('diagnostics_channel events', () => {
  let sandbox: Sandbox;
  let redis: Redis;
  let prefix: string;
  let fractal: Fractal;
  let app: Express;
  let clientSecret: string;
  const encryptionKey = randomBytes(32).toString('hex');
  /** Every token, code and secret the scenarios used: none may appear in any message. */
  const secrets = new Set<string>([SECRET, encryptionKey]);
  const seen: Seen = {};
  const raw: unknown[] = [];
  const listeners = Object.values(FRACTAL_CHANNELS).map((name) => {
    const listener = (message: unknown) => {
      raw.push(message);
      const all = seen as Record<string, unknown[]>;
      all[name] = [...(all[name] ?? []), message];
    };
    return { name, listener };
  });
  const events = <K extends keyof FractalChannelMessages>(name: K): FractalChannelMessages[K][] => (seen[name] ?? []) as FractalChannelMessages[K][];
  const clear = () => {
    for (const key of Object.keys(seen)) delete (seen as Record<string, unknown>)[key];
  };

  beforeAll(async () => {
    for (const { name, listener } of listeners) diagnostics_channel.subscribe(name, listener);
    sandbox = await startSandbox();
    const registered = sandbox.registerClient({ redirectUris: [CALLBACK] });
    clientSecret = registered.clientSecret;
    secrets.add(clientSecret);
    redis = await connectRedis();
    prefix = randomPrefix('diagnostics');
    fractal = createFractal({
      clientID: registered.clientID,
      clientSecret,
      domains: sandbox.domains,
      callbackURL: CALLBACK,
      encryptionKeys: encryptionKey,
      redis,
      redisPrefix: prefix,
      vault: { retry: { attempts: 1 }, refreshBackoff: false },
      client: { retry: { attempts: 1 } },
      webhooks: { secrets: SECRET, onError: () => undefined },
    });
    const auth = new passport.Passport();
    auth.use(fractal.strategy);
    auth.serializeUser((user, done) => done(null, user));
    app = express();
    app.post('/webhooks/fractal', fractal.webhooks!);
    app.use(session({ secret: 'test-secret', resave: false, saveUninitialized: false }));
    app.use(auth.session());
    app.get('/auth/fractal', auth.authenticate('fractal'));
    app.get('/auth/fractal/callback', (req, res, next) =>
      auth.authenticate('fractal', (err: unknown, user: unknown) => res.status(err ? 500 : user ? 200 : 401).json({ ok: Boolean(user) }))(req, res, next),
    );
  });

  afterAll(async () => {
    for (const { name, listener } of listeners) diagnostics_channel.unsubscribe(name, listener);
    // The scan over every message of every scenario.
    const text = JSON.stringify(raw);
    for (const secret of secrets) expect(text).not.toContain(secret);
    await fractal.close();
    await deletePrefix(redis, prefix);
    redis.disconnect();
    await sandbox.close();
  });
  beforeEach(() => {
    clear();
    sandbox.clearFaults();
  });

  /** Signs in through the app; remembers the code and the tokens as secrets. Returns the uid. */
  async function signIn(agent: TestAgent, decision: { approve?: boolean; email?: string } = {}): Promise<{ uid: string; status: number; callbackPath: string }> {
    const start = await agent.get('/auth/fractal');
    const location = await sandbox.authorize(start.headers.location as string, decision);
    const code = new URL(location).searchParams.get('code');
    if (code) secrets.add(code);
    const callbackPath = callbackPathOf(location);
    const res = await agent.get(callbackPath);
    const uid = sandbox.users.findByEmail(decision.email ?? 'alice@example.com')?.uid ?? '';
    const tokens = uid ? await fractal.vault.getTokenSet(uid).catch(() => null) : null;
    if (tokens) {
      secrets.add(tokens.accessToken);
      if (tokens.refreshToken) secrets.add(tokens.refreshToken);
    }
    return { uid, status: res.status, callbackPath };
  }

  async function rememberTokens(uid: string): Promise<void> {
    const tokens = await fractal.vault.getTokenSet(uid);
    if (!tokens) return;
    secrets.add(tokens.accessToken);
    if (tokens.refreshToken) secrets.add(tokens.refreshToken);
  }

  async function expireTokens(uid: string): Promise<void> {
    const tokens = await fractal.vault.getTokenSet(uid);
    await fractal.vault.saveTokens(uid, { ...tokens!, expiresAt: Date.now() - 1000 });
  }

  test('sign-in success, with the granted scopes', async () => {
    const { status } = await signIn(request.agent(app), { email: 'diag-ok@example.com' });
    expect(status).toBe(200);
    expect(events(FRACTAL_CHANNELS.signIn)).toEqual([{ outcome: 'success', strategy: 'fractal', grantedScopes: ['uid:read'], deniedScopes: [] }]);
  });

  test('sign-in failures carry the error code: denied, replayed callback, token endpoint down', async () => {
    const agent = request.agent(app);
    expect((await signIn(agent, { approve: false })).status).toBe(401);
    const { callbackPath } = await signIn(agent, { email: 'diag-replay@example.com' });
    expect((await agent.get(callbackPath)).status).toBe(401);
    sandbox.injectFault('token', { kind: 'status', status: 503, times: 5 });
    expect((await signIn(agent, { email: 'diag-down@example.com' })).status).toBe(500);
    const outcomes = events(FRACTAL_CHANNELS.signIn).map((m) => `${m.outcome}:${m.code ?? ''}:${m.status ?? ''}`);
    expect(outcomes).toEqual(['failure:access_denied:403', 'success::', 'failure:invalid_state:403', expect.stringMatching(/^failure:(provider_unavailable|temporarily_unavailable|server_error):5\d\d$/)]);
  });

  test('a refresh publishes start and end with its duration', async () => {
    const { uid } = await signIn(request.agent(app), { email: 'diag-refresh@example.com' });
    await expireTokens(uid);
    await fractal.vault.getAccessToken(uid);
    await rememberTokens(uid);
    expect(events(FRACTAL_CHANNELS.refreshStart)).toEqual([{ userId: uid }]);
    expect(events(FRACTAL_CHANNELS.refreshEnd)).toEqual([{ userId: uid, durationMs: expect.any(Number) }]);
    expect(events(FRACTAL_CHANNELS.refreshFailure)).toEqual([]);
  });

  test('a failed refresh publishes its code; a revoked grant also forces re-authentication', async () => {
    const { uid } = await signIn(request.agent(app), { email: 'diag-revoked@example.com' });
    await expireTokens(uid);
    sandbox.injectFault('token', { kind: 'status', status: 503 });
    await expect(fractal.vault.getAccessToken(uid)).rejects.toBeDefined();
    expect(events(FRACTAL_CHANNELS.refreshFailure)).toEqual([{ userId: uid, durationMs: expect.any(Number), code: expect.stringMatching(/unavailable|server_error/) }]);
    expect(events(FRACTAL_CHANNELS.reauthentication)).toEqual([]);
    sandbox.revokeGrant(uid);
    await expect(fractal.vault.getAccessToken(uid)).rejects.toMatchObject({ code: 'reauthentication_required' });
    expect(events(FRACTAL_CHANNELS.refreshFailure).map((m) => m.code)).toEqual([expect.any(String), 'invalid_grant']);
    expect(events(FRACTAL_CHANNELS.reauthentication)).toEqual([{ userId: uid, reason: 'grant_revoked' }]);
  });

  test('a store outage is published with the operation, never the record', async () => {
    const down = await connectRedis();
    down.disconnect();
    const broken = createFractal({ clientID: 'c', clientSecret: 'broken-client-secret', domains: sandbox.domains, callbackURL: CALLBACK, encryptionKeys: encryptionKey, redis: down, redisPrefix: prefix });
    secrets.add('broken-client-secret');
    const sealed = { accessToken: `at-${randomBytes(12).toString('hex')}`, refreshToken: `rt-${randomBytes(12).toString('hex')}`, tokenType: 'bearer' as const, expiresAt: Date.now() + 60_000, scopes: ['uid:read'] };
    secrets.add(sealed.accessToken);
    secrets.add(sealed.refreshToken);
    await expect(broken.vault.saveTokens('user-x', sealed)).rejects.toMatchObject({ code: 'store_unavailable' });
    expect(events(FRACTAL_CHANNELS.storeUnavailable)).toEqual([{ operation: expect.any(String), reason: expect.stringMatching(/^(connection \w+|error|timeout)$/) }]);
  });

  test('webhooks: accepted, duplicate, stale and rejected', async () => {
    const user = `diag-${randomBytes(4).toString('hex')}`;
    const newer = verificationBody('verification_approved', new Date().toISOString(), { user_id: user });
    const older = verificationBody('verification_rejected', new Date(Date.now() - 60_000).toISOString(), { user_id: user });
    expect((await postWebhook(app, newer)).status).toBe(200);
    expect((await postWebhook(app, newer)).status).toBe(200);
    expect((await postWebhook(app, older)).status).toBe(200);
    const forged = await postWebhook(app, newer, { secret: 'not-the-secret' });
    expect(forged.status).toBe(400);
    secrets.add('not-the-secret');
    expect(events(FRACTAL_CHANNELS.webhook).map((m) => [m.outcome, m.type, m.status, m.code])).toEqual([
      ['accepted', 'verification_approved', 200, undefined],
      ['duplicate', undefined, 200, undefined],
      ['stale', 'verification_rejected', 200, undefined],
      ['rejected', undefined, 400, forged.body.error],
    ]);
  });

  test('back-office token fetches: success and failure', async () => {
    const token = await fractal.client.getAppToken();
    secrets.add(token);
    const wrong = new FractalClient({ clientID: 'nobody', clientSecret: 'wrong-back-office-secret', domains: sandbox.domains, retry: { attempts: 1 } });
    secrets.add('wrong-back-office-secret');
    await expect(wrong.getAppToken()).rejects.toBeDefined();
    expect(events(FRACTAL_CHANNELS.appToken)).toEqual([
      { outcome: 'success', durationMs: expect.any(Number) },
      { outcome: 'failure', durationMs: expect.any(Number), code: expect.any(String) },
    ]);
    await wrong.close();
  });

  test('without a subscriber the sign-in actions are not even wrapped', () => {
    const actions = { success: () => undefined, fail: () => undefined, error: () => undefined };
    const ad = diagnostics_channel.channel(FRACTAL_CHANNELS.signIn);
    const mine = listeners.find((l) => l.name === FRACTAL_CHANNELS.signIn)!;
    diagnostics_channel.unsubscribe(mine.name, mine.listener);
    try {
      expect(ad.hasSubscribers).toBe(false);
      expect(observeSignIn(actions, 'fractal')).toBe(actions);
    } finally {
      diagnostics_channel.subscribe(mine.name, mine.listener);
    }
    expect(observeSignIn(actions, 'fractal')).not.toBe(actions);
  });
});
