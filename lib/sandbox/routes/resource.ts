import express, { type Request, type Response, type Router } from 'express';
import { CLIENT_STATS_SCOPE, UID_SCOPE } from '../../provider';
import type { SandboxContext } from '../model/context';
import { countryVerifications, totalVerifications, userVerifications } from '../model/stats';
import type { TokenRecord } from '../model/grants';
import { userInfoBody } from '../model/user-body';

/**
 * The resource origin: `GET /v2/users/me` and the statistics API, protected by bearer tokens
 * (RFC 6750). Error answers follow Doorkeeper's wording.
 */

const REALM = 'Fractal ID sandbox';

export function resourceRouter(ctx: SandboxContext): Router {
  const router = express.Router();
  router.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });

  router.get(
    '/v2/users/me',
    (_req, _res, next) => {
      ctx.counts.userinfo += 1;
      next();
    },
    ctx.faults.middleware('userinfo'),
    (req: Request, res: Response) => {
      const token = authenticate(ctx, req, res);
      if (!token) return;
      const user = token.uid === undefined ? undefined : ctx.users.record(token.uid);
      if (!user) return forbidden(res, UID_SCOPE);
      res.json(userInfoBody(user, token.scopes, ctx.responseShape));
    },
  );

  const stats = express.Router();
  stats.use(
    (_req, _res, next) => {
      ctx.counts.stats += 1;
      next();
    },
    ctx.faults.middleware('stats'),
    (req: Request, res: Response, next) => {
      const token = authenticate(ctx, req, res);
      if (!token) return;
      // App tokens only: a user's token never reads the client's statistics.
      if (token.uid !== undefined || !token.scopes.includes(CLIENT_STATS_SCOPE)) return forbidden(res, CLIENT_STATS_SCOPE);
      next();
    },
  );
  stats.get('/total-verifications', (_req, res) => {
    res.json(totalVerifications(ctx.users.records()));
  });
  stats.get('/country-verifications', (_req, res) => {
    res.json(countryVerifications(ctx.users.records()));
  });
  // No parameters (back-office-integration/application-statistics.md): every user of the sandbox.
  stats.get('/user-verifications', (_req, res) => {
    res.json(userVerifications(ctx.users.records()));
  });
  router.use('/v2/stats', stats);
  return router;
}

/**
 * RFC 6750 section 2.1 bearer authentication. Like Doorkeeper, presenting a token that came from a
 * refresh revokes the pair it replaced, whatever the token's own state; then revoked, expired and
 * unknown tokens get a 401 `invalid_token` (section 3.1).
 */
function authenticate(ctx: SandboxContext, req: Request, res: Response): TokenRecord | undefined {
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(req.get('authorization') ?? '');
  const token = match ? ctx.tokens.byAccessToken(match[1] as string) : undefined;
  if (token) ctx.tokens.revokePreviousOnUse(token);
  let reason: string | undefined;
  if (!token) reason = 'The access token is invalid';
  else if (token.revoked) reason = 'The access token was revoked';
  else if (ctx.clock.now() >= token.expiresAt) reason = 'The access token expired';
  if (reason === undefined) return token;
  res
    .status(401)
    .set('WWW-Authenticate', `Bearer realm="${REALM}", error="invalid_token", error_description="${reason}"`)
    .json({ error: 'invalid_token', error_description: reason });
  return undefined;
}

/** RFC 6750 section 3.1 `insufficient_scope`, with Doorkeeper's wording. */
function forbidden(res: Response, scope: string): void {
  const description = `Access to this resource requires scope "${scope}".`;
  res
    .status(403)
    .set('WWW-Authenticate', `Bearer realm="${REALM}", error="insufficient_scope", scope="${scope}"`)
    .json({ error: 'insufficient_scope', error_description: description });
}
