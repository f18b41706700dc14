import type { BenchContext } from '../harness/context';
import { loadTokens } from '../harness/dist';
import { createSession } from '../harness/session';
import type { FractalTokenSet } from '../../lib/provider/token-client';

/** Redirect URI of the client the token scenarios register (never followed: sign-ins are programmatic). */
export const TOKEN_CLIENT_REDIRECT = 'http://127.0.0.1:9/bench/callback';

/** The vault settings the runner and every `fractal` server share. */
export function vaultSettings(ctx: BenchContext, client: { clientID: string; clientSecret: string }) {
  return { encryptionKey: ctx.encryptionKey, ...client, domains: ctx.sandbox.domains };
}

/** A vault in the runner, with the servers' store and key, to save the tokens of prepared users. */
export function runnerVault(ctx: BenchContext, client: { clientID: string; clientSecret: string }) {
  const { createFractalVault, RedisTokenStore } = loadTokens();
  return createFractalVault({
    store: new RedisTokenStore({ client: ctx.redis.client, prefix: `${ctx.prefix}tokens:` }),
    encryptionKeys: [ctx.encryptionKey],
    ...client,
    domains: ctx.sandbox.domains,
  });
}

export interface PreparedUser {
  uid: string;
  tokenSet: FractalTokenSet;
  /** Cookie header of a signed-in session for this user. */
  cookie: string;
}

/** Signs a new user in at the sandbox and writes a signed-in session for them. */
export async function prepareUser(ctx: BenchContext, client: { clientID: string; clientSecret: string }, scopes?: readonly string[]): Promise<PreparedUser> {
  const { uid, tokenSet } = await ctx.sandbox.signIn(client, TOKEN_CLIENT_REDIRECT, scopes);
  const cookie = await createSession(ctx.redis.client, ctx.prefix, ctx.sessionSecret, { id: uid });
  return { uid, tokenSet, cookie };
}
