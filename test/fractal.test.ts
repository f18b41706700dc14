import express from 'express';
import session from 'express-session';
import passport from 'passport';
import request from 'supertest';
import { createFractal, ErrorCode, generateEncryptionKey, isFractalError, type CreateFractalOptions, type KycCache, MemoryKycCache } from '../lib';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { callbackPathOf } from './helpers/app';
import { connectRedis, deletePrefix, randomPrefix } from './helpers/redis';
import { postWebhook, SECRET, verificationBody } from './helpers/webhooks';

const CALLBACK = 'http://127.0.0.1:3999/auth/fractal/callback';

function configurationErrorOf(options: unknown): { code: string; message: string } {
  try {
    createFractal(options as CreateFractalOptions);
  } catch (err) {
    if (!isFractalError(err)) throw err;
    return { code: err.code, message: err.message };
  }
  throw new Error('createFractal accepted the options');
}

describe('createFractal: one configuration for every part', () => {
  let sandbox: Sandbox;
  let base: CreateFractalOptions;
  beforeAll(async () => {
    sandbox = await startSandbox();
    const { clientID, clientSecret } = sandbox.registerClient({ redirectUris: [CALLBACK] });
    base = { clientID, clientSecret, domains: sandbox.domains, callbackURL: CALLBACK, encryptionKeys: generateEncryptionKey() };
  });
  afterAll(() => sandbox.close());

  it.each([
    ['clientID', { clientID: '' }],
    ['clientSecret', { clientSecret: undefined }],
    ['callbackURL', { callbackURL: 42 }],
    ['encryptionKeys', { encryptionKeys: undefined }],
    ['environment', { environment: 'prod' }],
    ['redisPrefix', { redisPrefix: 'a{b}' }],
    ['webhooks', { webhooks: { onEvent: () => undefined } }],
    ['vault', { vault: 'fast' }],
  ])('a bad `%s` is refused with a configuration_error naming it', (option, change) => {
    const { code, message } = configurationErrorOf({ ...base, ...change });
    expect(code).toBe(ErrorCode.CONFIGURATION);
    expect(message).toContain(`\`${option}\``);
    expect(message).not.toContain(base.clientSecret);
  });

  it('a misspelt option is refused by name, with the right spelling', () => {
    const { clientID, ...rest } = base;
    const { message } = configurationErrorOf({ ...rest, clientId: clientID });
    expect(message).toBe('createFractal `clientId` is not an option; did you mean `clientID`?');
  });

  it('the parts share the one configuration: same origins, same client', () => {
    const fractal = createFractal({ ...base, scope: ['uid:read', 'contact:read'] });
    expect(fractal.client.domains).toEqual(sandbox.domains);
    expect(fractal.strategy.name).toBe('fractal');
    expect(fractal.webhooks).toBeUndefined();
  });

  it('a sign-in through the strategy saves the tokens in the vault and drops the cached KYC decision', async () => {
    // A real in-memory cache that also records what was invalidated.
    const invalidated: string[] = [];
    const memory = new MemoryKycCache();
    const cache: KycCache = {
      read: (userId) => memory.read(userId),
      write: (userId, generation, entry) => memory.write(userId, generation, entry),
      invalidate: (userId) => {
        invalidated.push(userId);
        return memory.invalidate(userId);
      },
    };
    const fractal = createFractal({ ...base, kyc: { cache } });
    const auth = new passport.Passport();
    auth.use(fractal.strategy);
    auth.serializeUser((user, done) => done(null, user));
    auth.deserializeUser((user: Express.User, done) => done(null, user));
    const app = express();
    app.use(session({ secret: 'test-secret', resave: false, saveUninitialized: false }));
    app.use(auth.session());
    app.use(fractal.vault.middleware());
    app.get('/auth/fractal', auth.authenticate('fractal'));
    app.get('/auth/fractal/callback', auth.authenticate('fractal'), (req, res) => res.json({ user: req.user }));
    app.get('/token', async (req, res) => res.json({ token: (await req.fractal!.getAccessToken()).length > 0 }));
    const agent = request.agent(app);
    const start = await agent.get('/auth/fractal');
    const location = await sandbox.authorize(start.headers.location as string, { email: 'one-config@example.com' });
    const callback = await agent.get(callbackPathOf(location));
    const uid = sandbox.users.findByEmail('one-config@example.com')!.uid;
    // The default onSignIn: the id the vault and the KYC cache look for.
    expect(callback.body).toEqual({ user: { id: uid } });
    expect(await fractal.vault.getTokenSet(uid)).not.toBeNull();
    expect(invalidated).toEqual([uid]);
    expect((await agent.get('/token')).body).toEqual({ token: true });
    await fractal.close();
  });

  it('onSignIn decides the session user, after the tokens are saved', async () => {
    const fractal = createFractal({
      ...base,
      onSignIn: async ({ profile, params }) => ({ id: profile.id, granted: params.grantedScopes, saved: (await fractalRef.vault.getTokenSet(profile.id)) !== null }),
    });
    const fractalRef = fractal;
    const auth = new passport.Passport();
    auth.use(fractal.strategy);
    auth.serializeUser((user, done) => done(null, user));
    const app = express();
    app.use(session({ secret: 'test-secret', resave: false, saveUninitialized: false }));
    app.use(auth.session());
    app.get('/auth/fractal', auth.authenticate('fractal'));
    app.get('/auth/fractal/callback', auth.authenticate('fractal'), (req, res) => res.json({ user: req.user }));
    const agent = request.agent(app);
    const start = await agent.get('/auth/fractal');
    const callback = await agent.get(callbackPathOf(await sandbox.authorize(start.headers.location as string)));
    expect(callback.body.user).toEqual({ id: expect.any(String), granted: ['uid:read'], saved: true });
  });

  it('with redis, every part keeps its state under redisPrefix, and a verification webhook drops the KYC decision', async () => {
    const redis = await connectRedis();
    const prefix = randomPrefix('one-config');
    try {
      const received: string[] = [];
      const fractal = createFractal({ ...base, redis, redisPrefix: prefix, webhooks: { secrets: SECRET, onEvent: (event) => void received.push(event.type) } });
      await fractal.vault.saveTokens('user-1', { accessToken: 'a'.repeat(20), refreshToken: 'r'.repeat(20), tokenType: 'bearer', expiresAt: Date.now() + 60_000, scopes: ['uid:read'] });
      const { generation } = await fractal.kyc.cache.read('user-1');
      await fractal.kyc.cache.write('user-1', generation, { cases: [], scopes: 'uid:read', fetchedAt: Date.now() });
      expect((await fractal.kyc.cache.read('user-1')).entry).toBeDefined();
      expect(await redis.keys(`${prefix}tokens:*`)).not.toHaveLength(0);
      expect(await redis.keys(`${prefix}kyc:*`)).not.toHaveLength(0);
      const app = express();
      app.post('/webhooks/fractal', fractal.webhooks!);
      const res = await postWebhook(app, verificationBody('verification_approved', new Date().toISOString()));
      expect(res.status).toBe(200);
      expect(received).toEqual(['verification_approved']);
      expect((await fractal.kyc.cache.read('user-1')).entry).toBeUndefined();
      expect(await redis.keys(`${prefix}webhooks:*`)).not.toHaveLength(0);
      await fractal.close();
    } finally {
      await deletePrefix(redis, prefix);
      redis.disconnect();
    }
  });
});
