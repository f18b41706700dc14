import { createHmac, randomBytes } from 'node:crypto';
import { RedisStore } from 'connect-redis';
import type { SessionData } from 'express-session';
import type { Cluster, Redis } from 'ioredis';
import { SESSION_COOKIE, type BenchUser } from '../servers/common';

/**
 * Writes a signed-in session straight into the servers' session store (connect-redis's own `set`)
 * and returns the Cookie header that selects it, signed like express-session does.
 */
export async function createSession(client: Redis | Cluster, prefix: string, secret: string, user: BenchUser): Promise<string> {
  const store = new RedisStore({ client, prefix: `${prefix}sess:` });
  const sid = randomBytes(24).toString('base64url');
  const maxAge = 30 * 60 * 1000;
  const session = {
    cookie: { originalMaxAge: maxAge, expires: new Date(Date.now() + maxAge).toISOString(), httpOnly: true, path: '/', sameSite: 'lax' },
    passport: { user },
  };
  await store.set(sid, session as unknown as SessionData);
  const signature = createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '');
  return `${SESSION_COOKIE}=${encodeURIComponent(`s:${sid}.${signature}`)}`;
}
