// Quick start: sign in with Fractal ID in an Express app, sessions in Redis.
// Run: FRACTAL_CLIENT_ID=... FRACTAL_CLIENT_SECRET=... SESSION_SECRET=... node quick-start.js
// Against the local sandbox (`npx fractal-sandbox`), also set FRACTAL_FRONTEND_URL,
// FRACTAL_AUTH_URL and FRACTAL_RESOURCE_URL to the URLs it prints.
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { Redis } from 'ioredis';
import passport from 'passport';
import { FractalStrategy, isFractalError, kycScopes, type FractalError } from 'passport-fractal-id';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`Set ${name}`);
  return value;
};
const port = Number(process.env.PORT ?? 3000);
const baseURL = process.env.BASE_URL ?? `http://localhost:${port}`;

passport.use(
  new FractalStrategy(
    {
      clientID: env('FRACTAL_CLIENT_ID'),
      clientSecret: env('FRACTAL_CLIENT_SECRET'),
      callbackURL: `${baseURL}/auth/fractal/callback`, // registered at Fractal ID exactly
      environment: process.env.FRACTAL_ENV === 'production' ? 'production' : 'staging',
      // Unset variables keep the environment's origins; the sandbox sets all three.
      domains: {
        ...(process.env.FRACTAL_FRONTEND_URL ? { frontend: process.env.FRACTAL_FRONTEND_URL } : {}),
        ...(process.env.FRACTAL_AUTH_URL ? { auth: process.env.FRACTAL_AUTH_URL } : {}),
        ...(process.env.FRACTAL_RESOURCE_URL ? { resource: process.env.FRACTAL_RESOURCE_URL } : {}),
      },
      scope: kycScopes('basic'),
      requiredScopes: ['verification.basic:read'],
    },
    async (_accessToken, _refreshToken, params, profile) => {
      // params.grantedScopes / deniedScopes tell you what the user really shared.
      const basic = profile.verificationCases.find((c) => c.level.startsWith('basic'));
      return { id: profile.id, kycStatus: basic?.status ?? 'none', scopes: params.grantedScopes };
    },
  ),
);
passport.serializeUser((user, done) => done(null, user));
passport.deserializeUser((user: Express.User, done) => done(null, user));

// connect-redis 8 with ioredis (connect-redis 9+ needs node-redis: see "Install").
// No offline queue: with Redis down a request fails at once (500) instead of hanging.
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
redis.on('error', (err) => console.warn('redis:', err.message));

const app = express();
app.use(
  session({
    store: new RedisStore({ client: redis, prefix: 'quickstart:sess:' }),
    secret: env('SESSION_SECRET'),
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', secure: baseURL.startsWith('https:') },
  }),
);
app.use(passport.session());

app.get('/', (req, res) => {
  res.send(req.user ? 'Signed in. <a href="/profile">Profile</a>' : '<a href="/auth/fractal">Sign in with Fractal ID</a>');
});

app.get('/auth/fractal', passport.authenticate('fractal'));

app.get('/auth/fractal/callback', (req, res, next) => {
  // info: on success, passport's AuthInfo (info.fractal: returnTo, granted scopes...);
  // on a failure (the user said no, a stale or forged callback), the typed FractalError.
  const callback = (err: unknown, user: Express.User | false, info: Express.AuthInfo | FractalError | undefined, status?: number) => {
    if (err) return next(err); // provider, network or configuration trouble: err.code, err.status
    if (!user) {
      const code = isFractalError(info) ? info.code : 'unknown'; // e.g. access_denied, invalid_state
      return res.status(status ?? 401).send(`Sign-in failed (${code}). <a href="/auth/fractal">Try again</a>`);
    }
    const returnTo = info && !isFractalError(info) ? info.fractal?.returnTo : undefined;
    req.logIn(user, (e) => (e ? next(e) : res.redirect(returnTo ?? '/profile')));
  };
  passport.authenticate('fractal', callback)(req, res, next);
});

app.get('/profile', (req, res) => {
  if (!req.user) return res.redirect('/');
  res.json(req.user);
});

app.listen(port, () => console.log(`Listening on ${baseURL}`));
