import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { SandboxError } from '../errors';
import type { Sandbox, SandboxDecision, SandboxVerificationUpdate } from '../types';

/**
 * `/_sandbox/*` on the auth origin: the programmatic API over HTTP (JSON), for tests and tools
 * running in another process. It has no authentication, so it answers loopback peers only.
 * A loopback peer is not enough: with DNS rebinding a web page's own name resolves to 127.0.0.1,
 * so the browser connects from loopback with `Host: attacker.example`. The `Host` must therefore
 * name loopback too (RFC 9110 section 7.2), and a browser's `Origin` (RFC 6454 section 7) must be
 * one of the sandbox's own origins: no web page may drive the admin API.
 * This is a test emulator: never expose it, never deploy it.
 */
export function adminRouter(sandbox: Sandbox): Router {
  const router = express.Router();
  router.use((req: Request, res: Response, next: NextFunction) => {
    if (!isLoopback(req.socket.remoteAddress)) {
      res.status(403).json({ error: 'forbidden', error_description: 'The sandbox admin API answers loopback clients only.' });
      return;
    }
    if (!isLoopbackHostHeader(req.headers.host)) {
      res.status(403).json({ error: 'forbidden', error_description: 'The sandbox admin API answers requests to a loopback Host only.' });
      return;
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !ownOrigins(sandbox).has(origin)) {
      res.status(403).json({ error: 'forbidden', error_description: 'The sandbox admin API refuses cross-origin requests.' });
      return;
    }
    res.set('Cache-Control', 'no-store');
    next();
  });
  router.use(express.json({ limit: '64kb' }));

  router.get('/counts', (_req, res) => {
    res.json(sandbox.counts());
  });
  router.post('/reset-counts', (_req, res) => {
    sandbox.resetCounts();
    res.status(204).end();
  });
  router.post('/faults', (req, res) => {
    const { endpoint, fault } = body(req);
    sandbox.injectFault(endpoint as Parameters<Sandbox['injectFault']>[0], fault as Parameters<Sandbox['injectFault']>[1]);
    res.status(204).end();
  });
  router.delete('/faults', (_req, res) => {
    sandbox.clearFaults();
    res.status(204).end();
  });
  router.post('/revoke', (req, res) => {
    const { uid, clientID } = body(req);
    if (typeof uid !== 'string' || (clientID !== undefined && typeof clientID !== 'string')) {
      throw new SandboxError('invalid_request', 'Send {"uid": "...", "clientID"?: "..."}');
    }
    sandbox.revokeGrant(uid, clientID);
    res.status(204).end();
  });
  router.get('/grants', (_req, res) => {
    res.json(sandbox.grants());
  });
  // "Expire now": `{"uid", "clientID"?}` -> `{"expired": n}`; refresh tokens keep working.
  router.post('/expire-tokens', (req, res) => {
    const { uid, clientID } = body(req);
    if (typeof uid !== 'string' || (clientID !== undefined && typeof clientID !== 'string')) {
      throw new SandboxError('invalid_request', 'Send {"uid": "...", "clientID"?: "..."}');
    }
    res.json({ expired: sandbox.expireTokens(uid, clientID) });
  });
  router.post('/reset', (_req, res) => {
    sandbox.reset();
    res.status(204).end();
  });
  router.post('/lifetimes', (req, res) => {
    sandbox.setTokenLifetimes(body(req));
    res.status(204).end();
  });
  // `{"shape": "minimal" | "full"}`: the docs' example shapes of /v2/users/me, or every table field.
  router.post('/response-shape', (req, res) => {
    sandbox.setResponseShape(body(req).shape as Parameters<Sandbox['setResponseShape']>[0]);
    res.status(204).end();
  });
  router.post('/clock-skew', (req, res) => {
    sandbox.setClockSkew(body(req).ms as number);
    res.status(204).end();
  });
  router.post('/clients', (req, res) => {
    res.status(201).json(sandbox.registerClient(body(req) as unknown as Parameters<Sandbox['registerClient']>[0]));
  });
  router.post('/authorize', async (req, res) => {
    const { url, decision } = body(req);
    if (typeof url !== 'string') throw new SandboxError('invalid_request', 'Send {"url": "<authorize URL>", "decision"?: {...}}');
    res.json({ location: await sandbox.authorize(url, decision as SandboxDecision | undefined) });
  });
  router.post('/verification', (req, res) => {
    const { uid, level, status, credential, journeyCompleted } = body(req);
    if (typeof uid !== 'string' || typeof level !== 'string') throw new SandboxError('invalid_request', 'Send {"uid", "level", "status"?, "credential"?}');
    const update = { status, credential, journeyCompleted } as SandboxVerificationUpdate;
    res.json(sandbox.users.setVerification(uid, level, withoutUndefined(update)));
  });
  router.get('/users', (_req, res) => {
    res.json(sandbox.users.list());
  });
  router.post('/users', (req, res) => {
    res.json(sandbox.users.ensure(body(req) as unknown as Parameters<Sandbox['users']['ensure']>[0]));
  });
  router.post('/email', (req, res) => {
    const { uid, email } = body(req);
    if (typeof uid !== 'string' || typeof email !== 'string') throw new SandboxError('invalid_request', 'Send {"uid", "email"}');
    res.json(sandbox.users.setEmail(uid, email));
  });
  router.post('/wallets', (req, res) => {
    const { uid, ...wallet } = body(req);
    if (typeof uid !== 'string') throw new SandboxError('invalid_request', 'Send {"uid", "address", "currency"?, "verified"?}');
    res.json(sandbox.users.addWallet(uid, wallet as unknown as Parameters<Sandbox['users']['addWallet']>[1]));
  });

  router.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'not_found', error_description: 'Unknown sandbox admin route' });
  });
  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof SandboxError) {
      res.status(err.status).json({ error: err.code, error_description: err.message });
      return;
    }
    const status = typeof (err as { status?: unknown }).status === 'number' ? (err as { status: number }).status : 500;
    // Body parser errors (malformed JSON) carry a 4xx status; anything else is our bug.
    res.status(status).json({ error: status < 500 ? 'invalid_request' : 'server_error', error_description: (err as Error).message });
  });
  return router;
}

function body(req: Request): Record<string, unknown> {
  const value: unknown = req.body;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SandboxError('invalid_request', 'Send a JSON object with Content-Type: application/json');
  }
  return value as Record<string, unknown>;
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function isLoopback(address: string | undefined): boolean {
  return address !== undefined && (address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.'));
}

/** `Host` as `127.0.0.0/8`, `localhost` or `[::1]`, with an optional port. */
export function isLoopbackHostHeader(host: string | undefined): boolean {
  if (host === undefined) return false;
  const match = /^(\[::1\]|localhost|127(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})(?::\d{1,5})?$/i.exec(host.trim());
  return match !== null;
}

function ownOrigins(sandbox: Sandbox): Set<string> {
  const origins = new Set<string>();
  for (const url of Object.values(sandbox.domains)) {
    try {
      origins.add(new URL(url).origin);
    } catch {
      // Not a URL: nothing to allow.
    }
  }
  return origins;
}
