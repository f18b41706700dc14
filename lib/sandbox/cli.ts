#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { startSandbox } from './server';
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
  --verbose             log one line per request
  -h, --help            show this help
`;

export interface CliIO {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Starts the sandbox from command-line arguments and prints how to use it. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<Sandbox | undefined> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      'auto-approve': { type: 'boolean' },
      'response-shape': { type: 'string' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.out(USAGE);
    return undefined;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port)) throw new Error(`--port must be an integer, got ${values.port}`);
  const sandbox = await startSandbox({
    port,
    ...(values.host !== undefined && { host: values.host }),
    autoApprove: values['auto-approve'] === true,
    ...(values['response-shape'] !== undefined && { responseShape: values['response-shape'] as SandboxResponseShape }),
    ...(values.verbose && { logger: (line: string) => io.err(line) }),
  });
  try {
    const client: SandboxClientInput = { redirectUris: values['redirect-uri'] ?? [DEFAULT_REDIRECT_URI], name: 'Local app' };
    if (values['client-id'] !== undefined) client.clientID = values['client-id'];
    if (values['client-secret'] !== undefined) client.clientSecret = values['client-secret'];
    const credentials = sandbox.registerClient(client);
    io.out('Fractal ID sandbox (test emulator, never use in production)');
    io.out(`  frontend  ${sandbox.domains.frontend}`);
    io.out(`  auth      ${sandbox.domains.auth}`);
    io.out(`  resource  ${sandbox.domains.resource}`);
    io.out(`  client_id      ${credentials.clientID}`);
    // The user asked for these credentials; printing a secret they chose themselves adds nothing.
    if (values['client-secret'] === undefined) io.out(`  client_secret  ${credentials.clientSecret}`);
    io.out(`  redirect_uri   ${client.redirectUris.join(' ')}`);
    if (values.host !== undefined && !/^(127\.|localhost$|::1$|\[::1\]$)/.test(values.host)) {
      io.err('Warning: bound to a non-loopback interface. The sandbox has no real authentication; keep it off shared networks.');
    }
    return sandbox;
  } catch (err) {
    await sandbox.close();
    throw err;
  }
}

async function main(): Promise<void> {
  const io: CliIO = { out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) };
  let sandbox: Sandbox | undefined;
  try {
    sandbox = await runCli(process.argv.slice(2), io);
  } catch (err) {
    io.err(`fractal-sandbox: ${err instanceof Error ? err.message : String(err)}`);
    io.err('Run fractal-sandbox --help for usage.');
    process.exitCode = 2;
    return;
  }
  if (!sandbox) return;
  const running = sandbox;
  const stop = (signal: NodeJS.Signals) => {
    io.err(`Received ${signal}, shutting down`);
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) void main();
