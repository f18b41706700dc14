import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { adminRouter } from './routes/admin';
import { authorizeDirectly, frontendRouter } from './routes/frontend';
import { SandboxError } from './errors';
import { resourceRouter } from './routes/resource';
import { type SandboxContext, checkClockSkew, checkResponseShape, copyCounts, createContext, resetCounts, setLifetimes } from './model/context';
import { tokenRouter } from './routes/token';
import type { Sandbox, SandboxOptions, SandboxWebhookOptions } from './types';
import { WebhookSender } from '../webhooks';
import { forwardSandboxEvents } from './webhook-events';

type OriginName = 'frontend' | 'auth' | 'resource';

/** What each origin serves, for 404 answers that explain a mis-wired URL. */
const ROUTES: Record<OriginName, string> = {
  frontend: 'GET /authorize, POST /authorize/decision',
  auth: 'POST /oauth/token, /_sandbox/* (admin)',
  resource: 'GET /v2/users/me, GET /v2/stats/{total,country,user}-verifications',
};

/**
 * Starts the three origins of the Fractal ID emulator (frontend, auth, resource), each on its own
 * port like the provider's three hosts, bound to loopback by default.
 *
 * This is a TEST EMULATOR: in-memory, unauthenticated admin API, consent without login. Never
 * expose it to a network or use it in production.
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65533) {
    throw new SandboxError('invalid_options', 'port must be an integer from 0 to 65533 (the auth and resource origins take port+1 and port+2)');
  }
  const ctx = createContext(options);
  const initial = { lifetimes: { ...ctx.lifetimes }, responseShape: ctx.responseShape };
  const domains = { frontend: '', auth: '', resource: '' };
  const servers: Server[] = [];
  let closing: Promise<void> | undefined;
  let webhooks: { sender: WebhookSender; stop: () => void } | undefined;
  const setWebhooks = (target: SandboxWebhookOptions | undefined): void => {
    if (webhooks) {
      webhooks.stop();
      void webhooks.sender.close();
      webhooks = undefined;
    }
    if (!target) return;
    const sender = new WebhookSender({
      url: target.url,
      secrets: target.secrets,
      ...(target.retry !== undefined && { retry: target.retry }),
      ...(target.timeoutMs !== undefined && { timeoutMs: target.timeoutMs }),
      ...(target.onAttempt !== undefined && { onAttempt: target.onAttempt }),
    });
    webhooks = { sender, stop: forwardSandboxEvents(ctx.events, sender) };
  };

  const sandbox: Sandbox = {
    domains,
    registerClient: (input) => ctx.clients.register(input),
    authorize: async (url, decision) => authorizeDirectly(ctx, domains.frontend, url, decision),
    users: ctx.users,
    counts: () => copyCounts(ctx.counts),
    resetCounts: () => resetCounts(ctx.counts),
    grants: () => ctx.tokens.liveGrants(ctx.clock.now()),
    revokeGrant: (uid, clientID) => {
      if (typeof uid !== 'string' || uid === '') throw new SandboxError('invalid_request', 'revokeGrant needs a uid');
      ctx.tokens.revokeUser(uid, clientID);
    },
    expireTokens: (uid, clientID) => {
      if (typeof uid !== 'string' || uid === '') throw new SandboxError('invalid_request', 'expireTokens needs a uid');
      if (clientID !== undefined && typeof clientID !== 'string') throw new SandboxError('invalid_request', 'expireTokens: clientID must be a string');
      return ctx.tokens.expireAccessTokens(uid, ctx.clock.now(), clientID);
    },
    reset: () => {
      ctx.tokens.clear();
      ctx.users.clear();
      ctx.faults.clear();
      resetCounts(ctx.counts);
      Object.assign(ctx.lifetimes, initial.lifetimes);
      ctx.responseShape = initial.responseShape;
      ctx.clock.skewMs = 0;
    },
    injectFault: (endpoint, fault) => ctx.faults.inject(endpoint, fault),
    clearFaults: () => ctx.faults.clear(),
    setTokenLifetimes: (lifetimes) => setLifetimes(ctx.lifetimes, lifetimes),
    setResponseShape: (shape) => {
      ctx.responseShape = checkResponseShape(shape);
    },
    setClockSkew: (ms) => {
      ctx.clock.skewMs = checkClockSkew(ms);
    },
    events: ctx.events,
    setWebhooks,
    close: () => {
      setWebhooks(undefined);
      closing ??= closeAll(ctx, servers);
      return closing;
    },
  };

  if (options.webhooks) setWebhooks(options.webhooks);

  const apps: Record<OriginName, Express> = {
    frontend: originApp(ctx, 'frontend', (app) => app.use(frontendRouter(ctx))),
    auth: originApp(ctx, 'auth', (app) => {
      app.use(tokenRouter(ctx));
      app.use('/_sandbox', adminRouter(sandbox));
    }),
    resource: originApp(ctx, 'resource', (app) => app.use(resourceRouter(ctx))),
  };
  try {
    const offsets: Record<OriginName, number> = { frontend: 0, auth: 1, resource: 2 };
    for (const name of ['frontend', 'auth', 'resource'] as const) {
      const server = createServer(apps[name]);
      servers.push(server);
      const bound = await listen(server, port === 0 ? 0 : port + offsets[name], host);
      domains[name] = `http://${urlHost(host)}:${bound}`;
    }
  } catch (err) {
    await sandbox.close();
    throw err;
  }
  Object.freeze(domains);
  ctx.log(`Fractal ID sandbox listening: frontend ${domains.frontend}, auth ${domains.auth}, resource ${domains.resource}`);
  return sandbox;
}

function originApp(ctx: SandboxContext, name: OriginName, mount: (app: Express) => void): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = Date.now();
    // Path only: query strings and bodies may carry codes, tokens or secrets.
    res.on('finish', () => ctx.log(`${name} ${req.method} ${req.path} ${res.statusCode} ${Date.now() - started}ms`));
    next();
  });
  mount(app);
  app.use((req: Request, res: Response) => {
    res
      .status(404)
      .json({ error: 'not_found', error_description: `${req.method} ${req.path} is not served by the sandbox's ${name} origin, which serves: ${ROUTES[name]}` });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = typeof (err as { status?: unknown }).status === 'number' ? (err as { status: number }).status : 500;
    ctx.log(`${name} error ${status}: ${err instanceof Error ? err.message : String(err)}`);
    if (res.headersSent) return;
    res.status(status).json({ error: status < 500 ? 'invalid_request' : 'server_error', error_description: status < 500 ? 'The request is malformed.' : 'Sandbox internal error.' });
  });
  return app;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

async function closeAll(ctx: SandboxContext, servers: readonly Server[]): Promise<void> {
  ctx.faults.cancelTimers();
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          if (!server.listening) return resolve();
          server.close(() => resolve());
          // Keep-alive sockets (and requests held by a delay fault) would keep close() waiting.
          server.closeAllConnections();
        }),
    ),
  );
}

/** The host to put in URLs: brackets for IPv6, loopback for "any address". */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
