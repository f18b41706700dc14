import { randomBytes } from 'node:crypto';
import { startChild, type ChildServer } from './child';
import { getJson, postJson } from './http';
import type { SandboxCounts, SandboxCredentials, SandboxDecision, SandboxTokenLifetimes, SandboxUser } from '../../lib/sandbox/types';
import type { FractalTokenSet } from '../../lib/provider/token-client';
import { loadProvider } from './dist';

export interface SandboxDomains {
  frontend: string;
  auth: string;
  resource: string;
}

/** The Fractal ID sandbox in its own process (auto-approve on), driven through its HTTP admin API. */
export class SandboxProcess {
  private constructor(
    readonly child: ChildServer,
    readonly domains: SandboxDomains,
  ) {}

  static async start(): Promise<SandboxProcess> {
    const child = await startChild({ script: 'sandbox.ts', name: 'sandbox' });
    return new SandboxProcess(child, child.info as SandboxDomains);
  }

  registerClient(redirectUris: string[], name = 'Benchmark app'): Promise<SandboxCredentials> {
    return postJson(`${this.domains.auth}/_sandbox/clients`, { redirectUris, name });
  }

  counts(): Promise<SandboxCounts> {
    return getJson(`${this.domains.auth}/_sandbox/counts`);
  }

  setLifetimes(lifetimes: SandboxTokenLifetimes): Promise<void> {
    return postJson(`${this.domains.auth}/_sandbox/lifetimes`, lifetimes);
  }

  async authorize(url: string, decision?: SandboxDecision): Promise<string> {
    return (await postJson<{ location: string }>(`${this.domains.auth}/_sandbox/authorize`, { url, decision })).location;
  }

  users(): Promise<SandboxUser[]> {
    return getJson(`${this.domains.auth}/_sandbox/users`);
  }

  /**
   * Signs a new user in without an app (authorize as that user, then exchange the code with the
   * library's TokenClient), for scenarios that need a user with tokens but do not measure sign-in.
   */
  async signIn(client: SandboxCredentials, redirectUri: string, scopes: readonly string[] = ['uid:read']): Promise<{ uid: string; tokenSet: FractalTokenSet }> {
    const email = `bench-${randomBytes(6).toString('hex')}@example.com`;
    const url = new URL('/authorize', this.domains.frontend);
    url.search = new URLSearchParams({ client_id: client.clientID, redirect_uri: redirectUri, response_type: 'code', scope: scopes.join(' '), state: randomBytes(8).toString('hex') }).toString();
    const code = new URL(await this.authorize(url.href, { email })).searchParams.get('code');
    if (!code) throw new Error('the sandbox did not approve the benchmark sign-in');
    const { TokenClient } = loadProvider();
    const tokens = new TokenClient({ tokenURL: `${this.domains.auth}/oauth/token`, ...client });
    const { tokenSet } = await tokens.exchangeCode({ code, redirectUri, requestedScopes: [...scopes] });
    const user = (await this.users()).find((u) => u.email === email);
    if (!user) throw new Error(`the sandbox does not know ${email}`);
    return { uid: user.uid, tokenSet };
  }

  /** Sets a user's verification case at the sandbox (`POST /_sandbox/verification`). */
  async setVerification(uid: string, level: string, update: { status: string; credential: string }): Promise<void> {
    await postJson(`${this.domains.auth}/_sandbox/verification`, { uid, level, ...update });
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}

/** Token-endpoint and userinfo calls between two count snapshots. */
export function countsDelta(before: SandboxCounts, after: SandboxCounts): { refresh: number; code: number; failed: number; userinfo: number; authorize: number } {
  return {
    refresh: after.token.refresh_token - before.token.refresh_token,
    code: after.token.authorization_code - before.token.authorization_code,
    failed: after.token.failed - before.token.failed,
    userinfo: after.userinfo - before.userinfo,
    authorize: after.authorize - before.authorize,
  };
}
