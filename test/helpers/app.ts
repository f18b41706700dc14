import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import passport from 'passport';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import {
  FractalStrategy,
  isFractalError,
  type FractalAuthenticateOptions,
  type FractalStrategyOptions,
  type FractalStrategyOptionsWithRequest,
  type FractalVerify,
  type FractalVerifyWithRequest,
} from '../../lib';
import type { Sandbox, SandboxDecision } from '../../lib/sandbox';

export const CALLBACK_PATH = '/auth/fractal/callback';

export interface TestApp {
  app: Express;
  strategy: FractalStrategy;
  clientID: string;
  clientSecret: string;
  callbackURL: string;
  /** Everything the verify callback received, one entry per call. */
  verified: Parameters<FractalVerify>[];
  /** Every outcome the callback route's authenticate callback was called with, in order. */
  outcomes: ('success' | 'fail' | 'error')[];
}

/**
 * A minimal app as a user would write it: express-session, passport 0.7 with sessions, the
 * strategy, a start route and a callback route with a custom callback that answers JSON, so
 * tests can read every outcome (success, fail with typed info and status, error).
 */
export function buildApp(
  sandbox: Sandbox,
  options: {
    strategy?: Partial<FractalStrategyOptions>;
    verify?: FractalVerify;
    /** When given, the strategy is built with `passReqToCallback: true` and this verify. */
    verifyWithRequest?: FractalVerifyWithRequest;
    callbackHost?: string;
    /** More redirect URIs registered for the client (for a per-request `callbackURL`). */
    extraRedirectUris?: string[];
    /** Per-request options of the start route, on top of those read from its query string. */
    authenticateOptions?: (req: Request) => FractalAuthenticateOptions;
  } = {},
): TestApp {
  // The redirect URI is registered before the app listens, so it uses a fixed loopback host; tests
  // never follow it over the network, they replay its query string into the app with supertest.
  const callbackURL = `http://${options.callbackHost ?? '127.0.0.1:3999'}${CALLBACK_PATH}`;
  const { clientID, clientSecret } = sandbox.registerClient({ redirectUris: [callbackURL, ...(options.extraRedirectUris ?? [])], name: 'Test app' });
  const verified: TestApp['verified'] = [];
  const outcomes: TestApp['outcomes'] = [];
  const verify: FractalVerify =
    options.verify ??
    ((accessToken, refreshToken, params, profile, done) => {
      verified.push([accessToken, refreshToken, params, profile, done]);
      done(null, { id: profile.id });
    });
  const strategyOptions = { clientID, clientSecret, callbackURL, domains: sandbox.domains, ...options.strategy };
  const strategy = options.verifyWithRequest
    ? new FractalStrategy({ ...strategyOptions, passReqToCallback: true } as FractalStrategyOptionsWithRequest & { skipUserProfile?: false }, options.verifyWithRequest)
    : new FractalStrategy(strategyOptions as FractalStrategyOptions & { skipUserProfile?: false }, (...args) => {
        if (options.verify) verified.push(args);
        return verify(...args);
      });
  const auth = new passport.Passport();
  auth.use(strategy);
  auth.serializeUser((user, done) => done(null, user));
  auth.deserializeUser((user: Express.User, done) => done(null, user));

  const app = express();
  app.use(session({ secret: 'test-secret', resave: false, saveUninitialized: false, name: 'sid' }));
  app.use(auth.session());
  app.get('/auth/fractal', (req, res, next) => {
    const perRequest: FractalAuthenticateOptions = {};
    if (typeof req.query.wallet === 'string') perRequest.ensureWallet = req.query.wallet;
    if (typeof req.query.returnTo === 'string') perRequest.returnTo = req.query.returnTo;
    if (typeof req.query.scope === 'string') perRequest.scope = req.query.scope;
    const extra = options.authenticateOptions?.(req);
    // Given as is when alone, so a test can check the strategy never writes into the caller's object.
    const merged = extra && Object.keys(perRequest).length === 0 ? extra : { ...perRequest, ...extra };
    auth.authenticate(strategy.name, merged)(req, res, next);
  });
  app.get(CALLBACK_PATH, (req: Request, res: Response, next: NextFunction) => {
    auth.authenticate(strategy.name, (err: unknown, user: Express.User | false, info: unknown, status: unknown): void => {
      outcomes.push(err ? 'error' : user ? 'success' : 'fail');
      // A strategy that settled twice: record it and answer nothing more (the first answer stands).
      if (res.headersSent) return;
      if (err) {
        const status = isFractalError(err) ? err.status : 500;
        res.status(status).json({ outcome: 'error', code: isFractalError(err) ? err.code : 'unknown', message: (err as Error).message });
        return;
      }
      if (!user) {
        const failure = info as { code?: string; message?: string; missingScopes?: string[] } | undefined;
        res.status(typeof status === 'number' ? status : 401).json({
          outcome: 'fail',
          code: failure?.code,
          message: failure?.message,
          missingScopes: failure?.missingScopes,
        });
        return;
      }
      req.logIn(user, (loginErr) => {
        if (loginErr) {
          next(loginErr);
          return;
        }
        // A custom callback receives the strategy's info directly (passport sets req.authInfo only without one).
        res.json({ outcome: 'success', user, authInfo: info });
      });
    })(req, res, next);
  });
  app.get('/me', (req, res) => {
    res.json({ user: req.user ?? null, pending: strategy.pendingSignIns(req) });
  });
  return { app, strategy, clientID, clientSecret, callbackURL, verified, outcomes };
}

/** Starts a sign-in and returns the authorize URL the app redirected to. */
export async function startSignIn(agent: TestAgent, path = '/auth/fractal'): Promise<string> {
  const res = await agent.get(path);
  if (res.status !== 302) throw new Error(`expected a redirect to Fractal ID, got ${res.status}: ${res.text}`);
  return res.headers.location as string;
}

/** Lets the sandbox decide on the authorize URL and replays the redirect into the app. */
export async function finishSignIn(agent: TestAgent, sandbox: Sandbox, authorizeUrl: string, decision?: SandboxDecision) {
  const location = await sandbox.authorize(authorizeUrl, decision);
  return agent.get(callbackPathOf(location));
}

/** The path and query of a callback URL, to replay into the app under test. */
export function callbackPathOf(location: string): string {
  const url = new URL(location);
  return url.pathname + url.search;
}

export function newAgent(app: Express): TestAgent {
  return request.agent(app);
}
