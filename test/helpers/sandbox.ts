import { createHash, randomBytes } from 'node:crypto';
import type { Sandbox, SandboxCredentials, SandboxDecision } from '../../lib/sandbox';

/** Helpers for tests that talk to a running sandbox over real HTTP (fetch, loopback only). */

export const REDIRECT_URI = 'http://127.0.0.1:3999/auth/fractal/callback';

export interface TestClient extends SandboxCredentials {
  redirectUri: string;
}

export function registerTestClient(sandbox: Sandbox, redirectUri = REDIRECT_URI): TestClient {
  return { ...sandbox.registerClient({ redirectUris: [redirectUri], name: 'Test app' }), redirectUri };
}

export function authorizeUrl(sandbox: Sandbox, client: TestClient, params: Record<string, string | undefined> = {}): string {
  const url = new URL('/authorize', sandbox.domains.frontend);
  const all: Record<string, string | undefined> = {
    client_id: client.clientID,
    redirect_uri: client.redirectUri,
    response_type: 'code',
    state: 'state-123',
    ...params,
  };
  for (const [name, value] of Object.entries(all)) if (value !== undefined) url.searchParams.set(name, value);
  return url.href;
}

/** The query parameters of a redirect Location. */
export function queryOf(location: string): Record<string, string> {
  return Object.fromEntries(new URL(location).searchParams);
}

export function codeOf(location: string): string {
  const code = new URL(location).searchParams.get('code');
  if (!code) throw new Error(`expected a code in ${location}`);
  return code;
}

export interface JsonAnswer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function answer(res: Response): Promise<JsonAnswer> {
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { raw: text };
  }
  return { status: res.status, headers: res.headers, body };
}

/** POST /oauth/token with form parameters; client credentials in the body unless `basic` is given. */
export async function tokenRequest(
  sandbox: Sandbox,
  params: Record<string, string>,
  options: { basic?: SandboxCredentials; headers?: Record<string, string> } = {},
): Promise<JsonAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', ...options.headers };
  if (options.basic) {
    const user = encodeURIComponent(options.basic.clientID);
    const pass = encodeURIComponent(options.basic.clientSecret);
    headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  }
  const res = await fetch(`${sandbox.domains.auth}/oauth/token`, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
  return answer(res);
}

export function exchangeCode(sandbox: Sandbox, client: TestClient, code: string, extra: Record<string, string> = {}): Promise<JsonAnswer> {
  return tokenRequest(sandbox, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: client.redirectUri,
    client_id: client.clientID,
    client_secret: client.clientSecret,
    ...extra,
  });
}

export function refreshRequest(sandbox: Sandbox, client: SandboxCredentials, refreshToken: string, extra: Record<string, string> = {}): Promise<JsonAnswer> {
  return tokenRequest(sandbox, {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    client_id: client.clientID,
    client_secret: client.clientSecret,
    ...extra,
  });
}

export async function resourceGet(sandbox: Sandbox, path: string, accessToken?: string): Promise<JsonAnswer> {
  const headers: Record<string, string> = accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` };
  return answer(await fetch(`${sandbox.domains.resource}${path}`, { headers }));
}

/** Authorizes (without a browser) and exchanges the code; fails the test on any error. */
export async function signIn(
  sandbox: Sandbox,
  client: TestClient,
  options: { scope?: string; decision?: SandboxDecision } = {},
): Promise<{ access_token: string; refresh_token: string; scope: string; [field: string]: unknown }> {
  const location = await sandbox.authorize(authorizeUrl(sandbox, client, { scope: options.scope }), options.decision);
  const res = await exchangeCode(sandbox, client, codeOf(location));
  if (res.status !== 200) throw new Error(`token exchange failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { access_token: string; refresh_token: string; scope: string };
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** Hidden and visible form fields of the consent page, as a browser would submit them. */
export function consentForm(html: string): URLSearchParams {
  const form = new URLSearchParams();
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    form.append(match[1] as string, decodeEntities(match[2] as string));
  }
  for (const match of html.matchAll(/<input type="checkbox" name="scope" value="([^"]+)"[^>]* checked>/g)) {
    form.append('scope', decodeEntities(match[1] as string));
  }
  form.set('user_type', 'person');
  form.set('email', 'alice@example.com');
  const wallet = /name="wallet" id="wallet" value="([^"]*)"/.exec(html);
  form.set('wallet', decodeEntities(wallet?.[1] ?? ''));
  return form;
}

export async function postDecision(sandbox: Sandbox, form: URLSearchParams): Promise<Response> {
  return fetch(`${sandbox.domains.frontend}/authorize/decision`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
    redirect: 'manual',
  });
}

function decodeEntities(value: string): string {
  return value.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
}
