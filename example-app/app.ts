import path from 'node:path';
import { RedisStore } from 'connect-redis';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import type { Redis } from 'ioredis';
import passport from 'passport';
import {
  createFractal,
  KYC_LEVELS,
  resolveDomains,
  fractalEmbedScript,
  kycStatus,
  normalizeScopes,
  parseScope,
  generateEncryptionKey,
  ErrorCode,
  type TokenStore,
  isFractalError,
  kycScopes,
  type FractalDomains,
  type FractalUser,
  type FractalWebhookEvent,
  type KycLevel,
  type WebhookError,
} from 'passport-fractal-id';
import type { AppConfig } from './config';
import { KycFeed, type KycUpdate } from './kyc-feed';
import { kycRoutes } from './kyc-routes';
import { sameOriginGuard, securityHeaders } from './security';
import { SessionStreams } from './streams';
import { errorPage, homePage, popupDonePage, profilePage, type ProfileView } from './views';

export interface AppDeps {
  config: AppConfig;
  clientID: string;
  clientSecret: string;
  domains: Partial<FractalDomains>;
  /** Shared ioredis client when REDIS_URL is set: sessions go to connect-redis. */
  redis?: Redis;
  /** Secret token of the webhook notifications; without it POST /webhooks/fractal is not mounted. */
  webhookSecret?: string;
  /** Where webhook outcomes fan out to open profile pages. Default: one from `redis`, else in-process. */
  kycFeed?: KycFeed;
  /** Where the token vault keeps tokens. Default: Redis when `redis` is given, else memory (one process). */
  tokenStore?: TokenStore;
  /** Open `/profile/events` streams, ended on logout (in every process with Redis) and capped per user. Default: one from `redis`. */
  sessionStreams?: SessionStreams;
  /** Origins the pages may frame besides their own and Fractal ID's FRONTEND (CSP `frame-src`). Default none. */
  frameSources?: string[];
  log?: (line: string) => void;
}

/** What this app keeps in the session for a signed-in user (no tokens: those belong in the token vault). */
type SessionUser = ProfileView & { id: string };

/** Builds the example app. Tests call this directly; server.ts adds the listener and the sandbox. */
export function createApp(deps: AppDeps): express.Express {
  const { config } = deps;
  const log = deps.log ?? ((line: string) => console.log(line));
  const auth = new passport.Passport();
  const environment = config.mode === 'staging' ? 'staging' : 'production';
  const feed = deps.kycFeed ?? new KycFeed(deps.redis);
  // One configuration for the strategy, the token vault (tokens encrypted at rest, refreshed once
  // across processes), KYC decisions for FRACTAL_KYC_LEVEL (cached per user, in Redis when there is
  // one, so a webhook on any process invalidates for all) and the webhook receiver (see README,
  // "One configuration").
  const fractal = createFractal({
    clientID: deps.clientID,
    clientSecret: deps.clientSecret,
    environment,
    domains: deps.domains,
    callbackURL: `${config.baseURL}/auth/fractal/callback`,
    scope: config.scopes,
    requiredScopes: config.requiredScopes,
    allowUnknownScopes: true,
    strategy: {
      // Where the back button on a used callback URL lands a signed-in browser (issue 14).
      returnTo: '/profile',
      // One code exchange per callback across every process on this Redis (issue 14).
      ...(deps.redis ? { callbackGuard: { client: deps.redis, prefix: 'example:state:' } } : {}),
    },
    // Without TOKEN_ENCRYPTION_KEY (sandbox and tests only; config refuses that in production) a
    // random key: stored tokens then do not survive a restart, which is harmless in development.
    encryptionKeys: config.tokenEncryptionKey ?? generateEncryptionKey(),
    ...(deps.redis ? { redis: deps.redis } : {}),
    redisPrefix: 'example:',
    ...(deps.tokenStore ? { tokenStore: deps.tokenStore } : {}),
    // Tokens are already in the vault and the KYC decision dropped: only the session user is ours.
    onSignIn: ({ profile, params }): SessionUser => ({
      id: profile.id,
      uid: profile.id,
      requestedScopes: params.requestedScopes,
      grantedScopes: params.grantedScopes,
      deniedScopes: params.deniedScopes,
      emails: (profile.emails ?? []).map((e) => e.value),
      cases: profile.verificationCases.map((c) => ({ level: c.level, status: c.status, credential: c.credential })),
      wallets: profile.wallets.map((w) => ({ address: w.address, currency: w.currency, verified: w.verified })),
    }),
    ...(deps.webhookSecret
      ? {
          webhooks: {
            secrets: deps.webhookSecret,
            onEvent: (event: FractalWebhookEvent) => onWebhook(event, feed),
            onError: (err: WebhookError) => {
              if (err.status >= 500) log(`webhook ${err.code}: ${err.message}`);
            },
          },
        }
      : {}),
  });
  const { vault, kyc } = fractal;
  const kycLevel = config.kycLevel;
  // Go-live check (README): an evicting or non-persistent Redis silently signs users out.
  void vault.check().then((result) => {
    for (const warning of result.warnings) log(`Token vault ${warning.code}: ${warning.message}`);
  });
  auth.use(fractal.strategy);
  auth.serializeUser((user, done) => done(null, user));
  auth.deserializeUser((user: Express.User, done) => done(null, user));

  const app = express();
  app.disable('x-powered-by');
  const streams = deps.sessionStreams ?? new SessionStreams(deps.redis ? { redis: deps.redis } : {});
  app.use(
    securityHeaders({
      frameSources: [new URL(resolveDomains({ environment, domains: deps.domains }).frontend).origin, ...(deps.frameSources ?? [])],
    }),
  );
  // The webhook is signed; the callback POST of the embedded journey has the strategy's own Origin check.
  app.use(sameOriginGuard({ baseURL: config.baseURL, exempt: ['/webhooks/fractal', '/auth/fractal/callback'] }));

  // Before the session middleware and any body parser: webhooks carry no cookie and must be
  // verified over their raw bytes.
  if (fractal.webhooks) {
    app.post('/webhooks/fractal', fractal.webhooks);
  } else {
    log('FRACTAL_WEBHOOK_SECRET is not set: POST /webhooks/fractal is disabled.');
  }
  if (new URL(config.baseURL).protocol === 'https:') app.set('trust proxy', 1);
  // Compiled to example-app/dist/ by `npm start`, run from source by the tests.
  const publicDir = path.join(__dirname, path.basename(__dirname) === 'dist' ? '..' : '.', 'public');
  app.use(express.static(publicDir, { index: false }));
  // "Verify in this page": the embedded journey's script, served from the package. The app's CSP
  // (security.ts) allows `frame-src` the FRONTEND origin and `script-src 'self'` for it.
  app.get('/fractal-embed.js', fractalEmbedScript());
  const frontendOrigin = new URL(resolveDomains({ environment, domains: deps.domains }).frontend).origin;
  if (!deps.redis) log('Sessions are kept in memory: fine for one process; set REDIS_URL to share them across processes.');
  app.use(
    session({
      name: 'fractal.sid',
      secret: config.sessionSecret,
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax', secure: new URL(config.baseURL).protocol === 'https:' },
      ...(deps.redis ? { store: new RedisStore({ client: deps.redis, prefix: 'example:sess:' }) } : {}),
    }),
  );
  app.use(auth.session());
  app.use(vault.middleware());

  app.get('/', (req, res) => {
    res.type('html').send(homePage({ signedIn: Boolean(req.user), levels: [...KYC_LEVELS], frontendOrigin }));
  });

  app.get('/auth/fractal', (req, res, next) => {
    const level = typeof req.query.level === 'string' && (KYC_LEVELS as readonly string[]).includes(req.query.level) ? (req.query.level as KycLevel) : undefined;
    const wallet = typeof req.query.wallet === 'string' && req.query.wallet.trim() !== '' ? req.query.wallet : undefined;
    const options: passport.AuthenticateOptions = {};
    const scopes = new Set(config.scopes);
    if (level) for (const s of kycScopes(level, { details: true })) scopes.add(s);
    // Wallets are only shared with a wallet scope; this demo offers Ethereum addresses.
    if (wallet && /^0x[0-9a-fA-F]{40}$/.test(wallet)) scopes.add('verification.wallet-eth:read');
    // The KYC guard sends browsers here with the scopes its requirement needs; only catalogue
    // scopes of a user sign-in are taken from the query.
    if (typeof req.query.scope === 'string') {
      for (const s of normalizeScopes(req.query.scope)) if (['uid', 'contact', 'level', 'addon'].includes(parseScope(s).kind)) scopes.add(s);
    }
    if (scopes.size !== config.scopes.length) options.scope = [...scopes];
    if (wallet) options.ensureWallet = wallet;
    if (typeof req.query.returnTo === 'string') options.returnTo = req.query.returnTo;
    if (req.query.popup === '1') options.appState = { popup: true };
    auth.authenticate('fractal', options)(req, res, next);
  });

  // GET: the redirect back from Fractal ID. POST: the embedded journey's {code, state}, sent by
  // fractal-embed.js from this origin (the strategy checks Origin and reads the small body itself).
  const callback = (req: Request, res: Response, next: NextFunction) => {
    auth.authenticate('fractal', (err: unknown, user: Express.User | false, info: unknown, status?: number) => {
      if (err) return next(err);
      if (!user) return sendFailure(req, res, info, status);
      const fractal = (info as Express.AuthInfo | undefined)?.fractal;
      const returnTo = fractal?.returnTo ?? '/profile';
      req.logIn(user, (loginErr) => {
        if (loginErr) return next(loginErr);
        if (fractal?.appState?.popup === true) return res.type('html').send(popupDonePage(returnTo));
        // 303: after the embedded journey's POST, the browser GETs the page.
        if (req.method === 'POST') res.redirect(303, returnTo);
        else res.redirect(returnTo);
      });
    })(req, res, next);
  };
  app.get('/auth/fractal/callback', callback);
  app.post('/auth/fractal/callback', callback);

  app.get('/profile', async (req, res, next) => {
    const user = req.user as SessionUser | undefined;
    if (!user) {
      res.redirect('/auth/fractal?returnTo=%2Fprofile');
      return;
    }
    try {
      // Fresh from Fractal ID through the vault (refreshing the token if needed), so a reload
      // shows what webhooks changed since sign-in.
      const fractalUser = await req.fractal!.fetchUser();
      const decision = kycStatus(fractalUser, config.kycRequirement);
      res.type('html').send(profilePage({ ...user, ...fromFractalUser(fractalUser), kyc: { level: kycLevel, status: decision.status } }));
    } catch (err) {
      if (isFractalError(err) && err.code === ErrorCode.REAUTHENTICATION_REQUIRED) {
        // The grant is gone and its tokens were deleted: end the session, sign in again (once).
        const sessionId = req.sessionID;
        req.logout(() => {
          void streams.endSession(sessionId);
          res.redirect('/auth/fractal?returnTo=%2Fprofile');
        });
        return;
      }
      next(err);
    }
  });

  // JSON for API clients; exercises the token vault (refresh on expiry).
  app.get('/api/me', async (req, res, next) => {
    const user = req.user as SessionUser | undefined;
    if (!user) {
      res.status(401).json({ error: 'unauthenticated' });
      return;
    }
    try {
      const fractalUser = await req.fractal!.fetchUser();
      res.json({ uid: user.id, grantedScopes: user.grantedScopes, deniedScopes: user.deniedScopes, user: fractalUser });
    } catch (err) {
      if (isFractalError(err) && err.code === ErrorCode.REAUTHENTICATION_REQUIRED) {
        const sessionId = req.sessionID;
        req.logout(() => {
          void streams.endSession(sessionId);
          res.status(401).json({ error: 'reauthentication_required' });
        });
        return;
      }
      next(err);
    }
  });

  app.use(kycRoutes(kyc, config));

  // Server-sent events: webhook outcomes for the signed-in user, for the open profile page.
  app.get('/profile/events', (req, res) => {
    const user = req.user as SessionUser | undefined;
    if (!user) {
      res.status(401).json({ error: 'unauthenticated' });
      return;
    }
    if (!streams.open(user.id, req.sessionID, res)) {
      res.status(429).set('Retry-After', '30').json({ error: 'too_many_streams', error_description: 'Too many open event streams for this user.' });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.flushHeaders();
    const { unsubscribe, ready } = feed.subscribe(user.id, (update: KycUpdate) => {
      res.write(`event: kyc\ndata: ${JSON.stringify(update)}\n\n`);
    });
    // Proxies drop idle streams; a comment line every 25 s keeps this one open.
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 25_000);
    req.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
    // The first line only once the Redis subscription stands: a page (or a test) that read it and
    // then caused a webhook gets the update, even when this stream opened the subscription.
    void ready.then(() => {
      if (!res.writableEnded) res.write('retry: 3000\n\n');
    });
  });

  app.post('/logout', async (req, res) => {
    // Deletes the user's tokens, then ends the passport login and destroys the session.
    const sessionId = req.sessionID;
    await vault.logout(req);
    // Its event streams too, here and in the other processes.
    await streams.endSession(sessionId);
    res.clearCookie('fractal.sid').redirect(303, '/');
  });

  app.get('/healthz', async (_req, res) => {
    if (!deps.redis) {
      res.json({ status: 'ok', redis: 'not configured' });
      return;
    }
    try {
      await deps.redis.ping();
      res.json({ status: 'ok', redis: 'ok' });
    } catch {
      res.status(503).set('Retry-After', '5').json({ status: 'unavailable', redis: 'unreachable' });
    }
  });

  // Errors: a typed error's status and a plain explanation; never a stack or provider text unescaped.
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    // The response has started (a stream, a half-sent page): only Express's default handler can
    // end it properly; answering again would throw ERR_HTTP_HEADERS_SENT.
    if (res.headersSent) {
      next(err);
      return;
    }
    // A session store or token store that cannot reach Redis: tell clients to come back.
    const redisDown = !isFractalError(err) && deps.redis !== undefined && deps.redis.status !== 'ready';
    const status = isFractalError(err) ? err.status : redisDown ? 503 : 500;
    const code = isFractalError(err) ? err.code : redisDown ? ErrorCode.STORE_UNAVAILABLE : 'server_error';
    if (status === 503) {
      const retryAfter = (err as { retryAfter?: unknown } | null)?.retryAfter;
      res.set('Retry-After', String(typeof retryAfter === 'number' ? retryAfter : 5));
    }
    if (status >= 500) log(`sign-in error ${code}: ${err instanceof Error ? err.message : String(err)}`);
    respond(req, res, status, code, explain(code));
  });
  // server.ts closes what createFractal made (the webhook store's waiting done marks) before Redis.
  app.locals.closeFractal = () => fractal.close();
  return app;
}

function fromFractalUser(user: FractalUser): Pick<ProfileView, 'emails' | 'cases' | 'wallets'> {
  return {
    emails: (user.emails ?? []).filter((e) => e.source_type !== 'obsolete').map((e) => e.address),
    cases: (user.verification_cases ?? []).map((c) => ({ level: c.level, status: c.status, credential: c.credential })),
    wallets: (user.wallets ?? []).map((w) => ({ address: w.address, currency: w.currency, verified: w.verified })),
  };
}

/** Verification outcomes go to the user's open profile pages; stale (out-of-order) ones are dropped. */
async function onWebhook(event: FractalWebhookEvent, feed: KycFeed): Promise<void> {
  // The user's KYC decision was already dropped (stale events too) by createFractal's receiver.
  if (!event.known || event.stale) return;
  switch (event.type) {
    case 'verification_approved':
    case 'verification_rejected':
    case 'verification_contacted': {
      const { user_id, level, timestamp } = event.data;
      const update: KycUpdate =
        event.type === 'verification_contacted'
          ? { uid: user_id, level, status: 'contacted', timestamp }
          : { uid: user_id, level, status: 'done', credential: event.type === 'verification_approved' ? 'approved' : 'rejected', timestamp };
      await feed.publish(update);
      break;
    }
    default:
      break;
  }
}

function sendFailure(req: Request, res: Response, info: unknown, status?: number): void {
  const code = typeof (info as { code?: unknown } | undefined)?.code === 'string' ? (info as { code: string }).code : 'access_denied';
  respond(req, res, status ?? 401, code, explain(code, info));
}

function respond(req: Request, res: Response, status: number, code: string, text: { title: string; body: string }): void {
  if (req.accepts(['html', 'json']) === 'json') {
    res.status(status).json({ error: code, error_description: text.body });
    return;
  }
  res.status(status).type('html').send(errorPage(status, text.title, text.body));
}

function explain(code: string, info?: unknown): { title: string; body: string } {
  switch (code) {
    case 'access_denied':
      return { title: 'Sign-in cancelled', body: 'You chose not to share your Fractal ID data with this app. Nothing was saved.' };
    case 'insufficient_scope': {
      const missing = (info as { missingScopes?: string[] } | undefined)?.missingScopes ?? [];
      return {
        title: 'More access needed',
        body: `This app needs access you did not grant${missing.length ? ` (${missing.join(', ')})` : ''}. Sign in again and keep those boxes ticked.`,
      };
    }
    case 'invalid_origin':
      return { title: 'Sign-in refused', body: 'The sign-in was sent from another website. Start it again from this app.' };
    case 'invalid_state':
    case 'invalid_callback':
      return { title: 'Sign-in link expired', body: 'This sign-in link was already used, has expired, or came from another browser. Please start again.' };
    case 'invalid_wallet':
      return { title: 'Wallet address not accepted', body: 'The wallet address contains characters that are not allowed. Check it and try again.' };
    case 'invalid_grant':
      return { title: 'Sign-in expired', body: 'The sign-in took too long or was already completed. Please start again.' };
    case 'store_unavailable':
      return { title: 'Temporarily unavailable', body: 'The app cannot reach its session store right now. Please try again in a few seconds.' };
    case 'provider_timeout':
    case 'provider_unavailable':
    case 'refresh_throttled':
    case 'temporarily_unavailable':
    case 'server_error':
      return { title: 'Fractal ID is not reachable', body: 'Fractal ID did not answer in time. Please try again in a minute.' };
    default:
      return { title: 'Sign-in failed', body: 'Something went wrong while signing you in. Please try again.' };
  }
}
