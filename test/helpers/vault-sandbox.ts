import { randomBytes } from 'node:crypto';
import { startSandbox, type Sandbox, type SandboxCredentials } from '../../lib/sandbox';
import { TokenClient, type FractalTokenSet } from '../../lib/provider/token-client';

export const REDIRECT_URI = 'http://localhost:3999/auth/fractal/callback';

export interface VaultSandbox {
  sandbox: Sandbox;
  client: SandboxCredentials;
  tokenURL: string;
  /**
   * Every answer of the token endpoint, as the sandbox logged it: when it finished (wall clock)
   * and how long it took, so a test can tell when a refresh was in flight at the server.
   */
  tokenAnswers: { status: number; startedAt: number; finishedAt: number }[];
  /** Signs a fresh user in at the sandbox (no browser, no strategy) and returns their uid and token set. */
  signIn(email?: string, scopes?: string[]): Promise<{ uid: string; tokenSet: FractalTokenSet }>;
  close(): Promise<void>;
}

/** A sandbox with one registered client, for token vault tests. */
export async function startVaultSandbox(): Promise<VaultSandbox> {
  const tokenAnswers: VaultSandbox['tokenAnswers'] = [];
  const sandbox = await startSandbox({
    logger: (line) => {
      // "auth POST /oauth/token 200 402ms" (see originApp in lib/sandbox/server.ts)
      const match = /^auth POST \/oauth\/token (\d{3}) (\d+)ms$/.exec(line);
      const finishedAt = Date.now();
      if (match) tokenAnswers.push({ status: Number(match[1]), startedAt: finishedAt - Number(match[2]), finishedAt });
    },
  });
  const client = sandbox.registerClient({ redirectUris: [REDIRECT_URI] });
  const tokenURL = `${sandbox.domains.auth}/oauth/token`;
  const tokenClient = new TokenClient({ tokenURL, ...client });
  return {
    sandbox,
    client,
    tokenURL,
    tokenAnswers,
    async signIn(email = `user-${randomBytes(5).toString('hex')}@example.com`, scopes = ['uid:read']) {
      const url = new URL(`${sandbox.domains.frontend}/authorize`);
      url.search = new URLSearchParams({
        client_id: client.clientID,
        redirect_uri: REDIRECT_URI,
        response_type: 'code',
        scope: scopes.join(' '),
        state: randomBytes(8).toString('hex'),
      }).toString();
      const location = new URL(await sandbox.authorize(url.href, { email }));
      const code = location.searchParams.get('code');
      if (!code) throw new Error(`The sandbox did not approve: ${location.href}`);
      const { tokenSet } = await tokenClient.exchangeCode({ code, redirectUri: REDIRECT_URI, requestedScopes: scopes });
      const user = sandbox.users.findByEmail(email);
      if (!user) throw new Error(`The sandbox does not know ${email}`);
      return { uid: user.uid, tokenSet };
    },
    close: () => sandbox.close(),
  };
}

/** The same token set, already expired: forces the next getAccessToken() to refresh, without sleeping. */
export function expired(tokenSet: FractalTokenSet): FractalTokenSet {
  return { ...tokenSet, expiresAt: Date.now() - 1000 };
}
