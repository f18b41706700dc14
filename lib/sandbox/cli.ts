#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ExitCode, parseOrUsage, processIo, runCommand, UsageError, type CliIo } from '../cli';
import type { Sandbox, SandboxClientInput, SandboxResponseShape } from './types';

/**
 * `fractal-sandbox`: runs the local Fractal ID emulator until SIGINT/SIGTERM.
 * TEST EMULATOR ONLY: never expose it to a network.
 */

export const DEFAULT_REDIRECT_URI = 'http://localhost:3000/auth/fractal/callback';

const USAGE = `Usage: fractal-sandbox [options]

Runs a local Fractal ID emulator (test use only) with three origins:
frontend (/authorize), auth (/oauth/token, /_sandbox admin API) and resource (/v2/...).

Options:
  --port <n>            frontend port; auth and resource use n+1 and n+2 (default 0: random ports)
  --host <addr>         interface to bind (default 127.0.0.1; the admin API answers loopback only)
  --client-id <id>      register a client with this ID (default: random)
  --client-secret <s>   its secret (default: random)
  --redirect-uri <uri>  its redirect URI, repeatable (default ${DEFAULT_REDIRECT_URI})
  --auto-approve        approve every authorization at once as alice@example.com
  --response-shape <s>  full (default) or minimal: /v2/users/me in the docs' example shapes
  --access-token-ttl <s>  access token lifetime in seconds (default 7200, the provider's)
  --webhook-url <url>   deliver signed webhooks (verification and email changes) to this URL
  --webhook-secret <s>  their secret token (default: random, printed)
  --json                print one JSON object (URLs, credentials, webhook) instead of text
  --verbose             log one line per request
  -h, --help            show this help

Exit codes: 0 stopped by SIGINT/SIGTERM (or --help), 1 could not start or stop (e.g. port in use),
2 wrong usage or express not installed.
`;

export type { CliIo } from '../cli';

/**
 * The sandbox is an Express app, and `express` is an optional peer dependency of the package (apps
 * that only sign in do not need it), so `npx fractal-sandbox` in such an app must say what to do
 * rather than die on a `Cannot find module` stack. A setup error: exit 2, like wrong usage.
 */
export const MISSING_EXPRESS = 'fractal-sandbox needs express (an optional peer dependency of passport-fractal-id): npm i -D express';

class MissingExpressError extends Error {}

/**
 * Node's own failure to resolve `express` itself. Not a module missing inside an installed
 * express (`Cannot find module 'body-parser'`, whose require stack names express's files), nor
 * `express-session`: those stay the errors they are.
 */
function isMissingExpress(err: unknown): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && /^Cannot find module 'express'(\n|$)/.test(err.message);
}

/** Loaded on first use rather than imported, so that a missing express is caught here, and `--help` works without it. */
function loadServer(): typeof import('./server') {
  try {
    return require('./server') as typeof import('./server');
  } catch (err) {
    throw isMissingExpress(err) ? new MissingExpressError(MISSING_EXPRESS) : err;
  }
}

/** What {@link runCli} did: the exit code so far, and the running sandbox when it started one. */
export interface CliResult {
  code: ExitCode;
  sandbox?: Sandbox;
}

/**
 * Starts the sandbox from command-line arguments and prints how to use it. Never throws: wrong
 * usage and a missing express are code 2, a sandbox that cannot start (a port in use) code 1, each
 * with a message on stderr.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<CliResult> {
  let sandbox: Sandbox | undefined;
  const code = await runCommand('fractal-sandbox', io, async () => {
    try {
      sandbox = await start(argv, io);
    } catch (err) {
      if (!(err instanceof MissingExpressError)) throw err;
      io.stderr(`${err.message}\n`);
      return ExitCode.USAGE;
    }
    return ExitCode.OK;
  });
  return sandbox ? { code, sandbox } : { code };
}

async function start(argv: readonly string[], io: CliIo): Promise<Sandbox | undefined> {
  const { values } = parseOrUsage(() =>
    parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'client-id': { type: 'string' },
        'client-secret': { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        'auto-approve': { type: 'boolean' },
        'response-shape': { type: 'string' },
        'access-token-ttl': { type: 'string' },
        'webhook-url': { type: 'string' },
        'webhook-secret': { type: 'string' },
        json: { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    io.stdout(USAGE);
    return undefined;
  }
  const shape = values['response-shape'];
  if (shape !== undefined && shape !== 'full' && shape !== 'minimal') throw new UsageError(`--response-shape must be "full" or "minimal", got ${JSON.stringify(shape)}`);
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got ${values.port}`);
  const ttl = values['access-token-ttl'] === undefined ? undefined : Number(values['access-token-ttl']);
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 1)) throw new UsageError(`--access-token-ttl must be a whole number of seconds >= 1, got ${values['access-token-ttl']}`);
  const webhookURL = values['webhook-url'];
  if (values['webhook-secret'] !== undefined && webhookURL === undefined) throw new UsageError('--webhook-secret needs --webhook-url');
  if (webhookURL !== undefined && !URL.canParse(webhookURL)) throw new UsageError(`--webhook-url must be an absolute URL, got ${webhookURL}`);
  const webhookSecret = webhookURL === undefined ? undefined : (values['webhook-secret'] ?? randomBytes(20).toString('hex'));
  const { startSandbox } = loadServer();
  const sandbox = await startSandbox({
    port,
    ...(values.host !== undefined && { host: values.host }),
    autoApprove: values['auto-approve'] === true,
    ...(shape !== undefined && { responseShape: shape satisfies SandboxResponseShape }),
    ...(values.verbose && { logger: (line: string) => io.stderr(`${line}\n`) }),
    ...(ttl !== undefined && { accessTokenTTL: ttl }),
    ...(webhookURL !== undefined && webhookSecret !== undefined && { webhooks: { url: webhookURL, secrets: webhookSecret } }),
  });
  try {
    const client: SandboxClientInput = { redirectUris: values['redirect-uri'] ?? [DEFAULT_REDIRECT_URI], name: 'Local app' };
    if (values['client-id'] !== undefined) client.clientID = values['client-id'];
    if (values['client-secret'] !== undefined) client.clientSecret = values['client-secret'];
    const credentials = sandbox.registerClient(client);
    if (values.json) {
      // For scripts: everything an app's configuration needs, secrets included (the sandbox's own).
      const webhook = webhookURL === undefined ? null : { url: webhookURL, secret: webhookSecret };
      const admin = `${sandbox.domains.auth}/_sandbox`;
      io.stdout(`${JSON.stringify({ ...sandbox.domains, admin, ...credentials, redirectUris: client.redirectUris, accessTokenTTL: ttl ?? 7200, webhook })}\n`);
      return sandbox;
    }
    const lines = [
      'Fractal ID sandbox (test emulator, never use in production)',
      `  frontend  ${sandbox.domains.frontend}`,
      `  auth      ${sandbox.domains.auth}`,
      `  resource  ${sandbox.domains.resource}`,
      `  client_id      ${credentials.clientID}`,
    ];
    // The user asked for these credentials; printing a secret they chose themselves adds nothing.
    if (values['client-secret'] === undefined) lines.push(`  client_secret  ${credentials.clientSecret}`);
    lines.push(`  redirect_uri   ${client.redirectUris.join(' ')}`);
    if (webhookURL !== undefined) lines.push(`  webhooks       ${webhookURL}`);
    if (webhookURL !== undefined && values['webhook-secret'] === undefined) lines.push(`  webhook_secret ${webhookSecret}`);
    lines.push(`  admin API      ${sandbox.domains.auth}/_sandbox (README: "The sandbox")`);
    io.stdout(`${lines.join('\n')}\n`);
    if (values.host !== undefined && !/^(127\.|localhost$|::1$|\[::1\]$)/.test(values.host)) {
      io.stderr('Warning: bound to a non-loopback interface. The sandbox has no real authentication; keep it off shared networks.\n');
    }
    return sandbox;
  } catch (err) {
    await sandbox.close();
    throw err;
  }
}

async function main(): Promise<void> {
  const { code, sandbox } = await runCli(process.argv.slice(2), processIo);
  if (!sandbox) {
    process.exitCode = code;
    return;
  }
  const stop = (signal: NodeJS.Signals) => {
    processIo.stderr(`Received ${signal}, shutting down\n`);
    sandbox.close().then(
      () => process.exit(ExitCode.OK),
      () => process.exit(ExitCode.FAILURE),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) void main();
