import express, { type Request, type Response, type Router } from 'express';
import {
  DEFAULT_EMAIL,
  type AuthorizationRequest,
  type Consent,
  approveLocation,
  checkAuthorizeRequest,
  consentFromDecision,
  denyLocation,
} from '../model/authorization-request';
import { renderConsentPage, renderErrorPage } from './pages';
import { isFramed, sendFramedResult, framingHeaders } from './framed';
import { hmac, safeEqual } from '../crypto';
import { SandboxError } from '../errors';
import type { SandboxContext } from '../model/context';
import type { SandboxDecision } from '../types';

/**
 * The frontend origin: `GET /authorize` shows the consent page, `POST /authorize/decision`
 * receives it. The original request travels in hidden fields signed with a per-sandbox HMAC key,
 * so the form cannot be edited to send a code to another client or redirect URI.
 */

/** Hidden fields, in the order the MAC covers them. */
const SIGNED_FIELDS = ['client_id', 'redirect_uri', 'requested_scope', 'state', 'ensure_wallet', 'code_challenge', 'code_challenge_method'] as const;

const HTML_HEADERS = {
  'Cache-Control': 'no-store',
  // No form-action: browsers apply it to the redirect after submit, which goes to the client.
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
};

export function frontendRouter(ctx: SandboxContext): Router {
  const router = express.Router();

  router.get(
    '/authorize',
    (_req, _res, next) => {
      ctx.counts.authorize += 1;
      next();
    },
    ctx.faults.middleware('authorize'),
    (req: Request, res: Response) => {
      const check = checkAuthorizeRequest(ctx, queryOf(req));
      if (check.kind === 'page') return sendPage(res, 400, renderErrorPage(check.error, check.description));
      if (check.kind === 'redirect') return finish(req, res, check.location);
      if (ctx.autoApprove) return finish(req, res, approveLocation(ctx, check.request, { email: DEFAULT_EMAIL, userType: 'person' }));
      return sendPage(
        res,
        200,
        renderConsentPage({
          clientName: check.request.client.name,
          scopes: check.request.scopes,
          ...(check.request.ensureWallet !== undefined && { ensureWallet: check.request.ensureWallet, walletForced: isFramed(req) }),
          hidden: signedFields(ctx, check.request),
          personOnlyScopes: ctx.personOnlyScopes,
          institutionOnlyScopes: ctx.institutionOnlyScopes,
          defaultEmail: DEFAULT_EMAIL,
        }),
        isFramed(req) ? framingHeaders(check.request.redirectUri) : {},
      );
    },
  );

  router.post('/authorize/decision', express.text({ type: 'application/x-www-form-urlencoded', limit: '64kb' }), (req: Request, res: Response) => {
    const form = new URLSearchParams(typeof req.body === 'string' ? req.body : '');
    const original = verifySignedFields(ctx, form);
    if (!original) {
      return sendPage(res, 400, renderErrorPage('invalid_request', 'The authorization form was modified or is incomplete. Start the sign-in again.'));
    }
    const check = checkAuthorizeRequest(ctx, original);
    if (check.kind === 'page') return sendPage(res, 400, renderErrorPage(check.error, check.description));
    if (check.kind === 'redirect') return finish(req, res, check.location);
    const decision = form.getAll('decision');
    if (decision.length !== 1 || (decision[0] !== 'approve' && decision[0] !== 'deny')) {
      return sendPage(res, 400, renderErrorPage('invalid_request', 'Choose Approve or Deny.'));
    }
    if (decision[0] === 'deny') return finish(req, res, denyLocation(check.request));
    try {
      const userType = form.get('user_type') ?? 'person';
      const consent = consentFromDecision({
        email: form.get('email') ?? '',
        userType: userType as 'person' | 'institution',
        grantScopes: form.getAll('scope'),
        // Framed, `ensure_wallet` "will be forced" (user-integration/embedded-journey-iframe.md).
        wallet: isFramed(req) && check.request.ensureWallet !== undefined ? check.request.ensureWallet : (form.get('wallet') ?? ''),
      }) as Consent;
      return finish(req, res, approveLocation(ctx, check.request, consent));
    } catch (err) {
      if (err instanceof SandboxError) return sendPage(res, 400, renderErrorPage(err.code, err.message));
      throw err;
    }
  });

  return router;
}

/**
 * `sandbox.authorize()`: the consent page's logic without a browser. The URL must point at this
 * sandbox's `/authorize`, which catches an app wired to the wrong origin.
 */
export function authorizeDirectly(ctx: SandboxContext, frontendOrigin: string, authorizeUrl: string, decision?: SandboxDecision): string {
  let url: URL;
  try {
    url = new URL(authorizeUrl);
  } catch {
    throw new SandboxError('invalid_authorize_url', `Not an absolute URL: ${JSON.stringify(authorizeUrl)}`);
  }
  if (url.origin !== frontendOrigin || url.pathname !== '/authorize') {
    throw new SandboxError('invalid_authorize_url', `The authorize URL must start with ${frontendOrigin}/authorize, got ${url.origin}${url.pathname}`);
  }
  const consent = consentFromDecision(decision);
  ctx.counts.authorize += 1;
  const check = checkAuthorizeRequest(ctx, url.searchParams);
  if (check.kind === 'page') throw new SandboxError(check.error, `Fractal ID would show an error page: ${check.description}`);
  if (check.kind === 'redirect') return check.location;
  return consent === 'deny' ? denyLocation(check.request) : approveLocation(ctx, check.request, consent);
}

/** The raw query string, so repeated parameters are seen (Express's parser would merge them). */
function queryOf(req: Request): URLSearchParams {
  const index = req.originalUrl.indexOf('?');
  return new URLSearchParams(index === -1 ? '' : req.originalUrl.slice(index + 1));
}

function signedFields(ctx: SandboxContext, request: AuthorizationRequest): Record<string, string> {
  const values: Record<(typeof SIGNED_FIELDS)[number], string> = {
    client_id: request.client.clientID,
    redirect_uri: request.redirectUri,
    requested_scope: request.scopes.join(' '),
    state: request.state,
    ensure_wallet: request.ensureWallet ?? '',
    code_challenge: request.codeChallenge ?? '',
    code_challenge_method: request.codeChallengeMethod ?? '',
  };
  return { ...values, mac: mac(ctx, SIGNED_FIELDS.map((f) => values[f])) };
}

/** The original authorization request's parameters, or undefined when the MAC does not match. */
function verifySignedFields(ctx: SandboxContext, form: URLSearchParams): URLSearchParams | undefined {
  const values: string[] = [];
  for (const field of SIGNED_FIELDS) {
    const all = form.getAll(field);
    if (all.length > 1) return undefined;
    values.push(all[0] ?? '');
  }
  const given = form.getAll('mac');
  if (given.length !== 1 || !safeEqual(given[0] as string, mac(ctx, values))) return undefined;
  const [clientID, redirectUri, scope, state, wallet, challenge, method] = values as [string, string, string, string, string, string, string];
  const params = new URLSearchParams({ client_id: clientID, redirect_uri: redirectUri, response_type: 'code', scope, state });
  if (wallet !== '') params.set('ensure_wallet', wallet);
  if (challenge !== '') params.set('code_challenge', challenge);
  if (method !== '') params.set('code_challenge_method', method);
  return params;
}

function mac(ctx: SandboxContext, values: readonly string[]): string {
  // JSON keeps field boundaries unambiguous ("a" + "bc" differs from "ab" + "c").
  return hmac(ctx.formKey, JSON.stringify(values));
}

/** `headers` override HTML_HEADERS; an empty value removes that header. */
function sendPage(res: Response, status: number, html: string, headers: Record<string, string> = {}): void {
  res.status(status).set(HTML_HEADERS);
  for (const [name, value] of Object.entries(headers)) {
    if (value === '') res.removeHeader(name);
    else res.set(name, value);
  }
  res.type('html').send(html);
}

/** The end of the journey: a redirect, or in a frame a message to the parent window (framed.ts). */
function finish(req: Request, res: Response, location: string): void {
  if (isFramed(req)) sendFramedResult(res, location);
  else res.redirect(302, location);
}
