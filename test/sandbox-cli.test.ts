import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_REDIRECT_URI, MISSING_EXPRESS, runCli } from '../lib/sandbox/cli';
import { authorizeUrl, codeOf, exchangeCode } from './helpers/sandbox';

/** Collects what a command writes. */
function capture() {
  const text = { stdout: '', stderr: '' };
  return { text, io: { stdout: (t: string) => (text.stdout += t), stderr: (t: string) => (text.stderr += t) } };
}

/** Runs `fractal-sandbox` to its exit, as a child process (only for runs that end by themselves). */
function sandboxCli(args: string[], root = path.join(__dirname, '..')): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', path.join(root, 'lib/sandbox/cli.ts'), ...args],
      { timeout: 20_000, cwd: root },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

describe('fractal-sandbox CLI', () => {
  it('registers the given client and prints the three URLs', async () => {
    const { text: out, io } = capture();
    const { code, sandbox } = await runCli(
      ['--client-id', 'cli-app', '--client-secret', 'cli-secret', '--redirect-uri', 'http://localhost:4000/cb', '--redirect-uri', 'http://localhost:4001/cb'],
      io,
    );
    if (!sandbox) throw new Error('expected a running sandbox');
    try {
      expect(code).toBe(0);
      const text = out.stdout + out.stderr;
      for (const url of Object.values(sandbox.domains)) expect(text).toContain(url);
      expect(text).toContain('cli-app');
      expect(text).not.toContain('cli-secret');
      const client = { clientID: 'cli-app', clientSecret: 'cli-secret', redirectUri: 'http://localhost:4001/cb' };
      const location = await sandbox.authorize(authorizeUrl(sandbox, client));
      expect((await exchangeCode(sandbox, client, codeOf(location))).status).toBe(200);
    } finally {
      await sandbox.close();
    }
  });

  it('--response-shape minimal answers /v2/users/me in the docs example shapes; a bad value is refused', async () => {
    const { sandbox } = await runCli(['--response-shape', 'minimal', '--client-id', 'cli-min', '--client-secret', 'cli-min-secret'], capture().io);
    if (!sandbox) throw new Error('expected a running sandbox');
    try {
      const client = { clientID: 'cli-min', clientSecret: 'cli-min-secret', redirectUri: DEFAULT_REDIRECT_URI };
      const location = await sandbox.authorize(authorizeUrl(sandbox, client, { scope: 'contact:read' }));
      const token = (await exchangeCode(sandbox, client, codeOf(location))).body.access_token as string;
      const me = await fetch(`${sandbox.domains.resource}/v2/users/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(((await me.json()) as { emails: unknown }).emails).toEqual([{ address: 'alice@example.com' }]);
    } finally {
      await sandbox.close();
    }
    const refused = capture();
    expect(await runCli(['--response-shape', 'tiny'], refused.io)).toEqual({ code: 2 });
    expect(refused.text.stderr).toMatch(/full" or "minimal/);
  });

  it('registers a client for the example app and prints its credentials when none is given', async () => {
    const { text: out, io } = capture();
    const { sandbox } = await runCli([], io);
    if (!sandbox) throw new Error('expected a running sandbox');
    try {
      const id = /client_id\s+(\S+)/.exec(out.stdout)?.[1] as string;
      const secret = /client_secret\s+(\S+)/.exec(out.stdout)?.[1] as string;
      const client = { clientID: id, clientSecret: secret, redirectUri: DEFAULT_REDIRECT_URI };
      const location = await sandbox.authorize(authorizeUrl(sandbox, client));
      expect((await exchangeCode(sandbox, client, codeOf(location))).status).toBe(200);
    } finally {
      await sandbox.close();
    }
  });

  it('--help prints the usage on stdout and exits 0 without starting anything', async () => {
    const { text, io } = capture();
    expect(await runCli(['--help'], io)).toEqual({ code: 0 });
    expect(text.stdout).toContain('--redirect-uri');
    expect(text.stderr).toBe('');
  });

  it.each([[['--bogus']], [['--port', 'abc']], [['--port', '70000']], [['positional']]])('wrong usage %j exits 2 with the reason on stderr and nothing on stdout', async (args) => {
    const { text, io } = capture();
    expect(await runCli(args, io)).toEqual({ code: 2 });
    expect(text.stdout).toBe('');
    expect(text.stderr).toMatch(/^fractal-sandbox: .+\nRun fractal-sandbox --help for usage\.\n$/);
  });

  it('a port already in use exits 1 (a run-time failure), not 2', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as { port: number };
    try {
      const { text, io } = capture();
      expect(await runCli(['--port', String(port)], io)).toEqual({ code: 1 });
      expect(text.stdout).toBe('');
      expect(text.stderr).toMatch(/^fractal-sandbox: .*EADDRINUSE/);
    } finally {
      busy.close();
    }
  });

  it('as a process: exit code 2 for wrong usage and 0 for --help', async () => {
    const [usage, help] = await Promise.all([sandboxCli(['--bogus']), sandboxCli(['--help'])]);
    expect(usage).toMatchObject({ code: 2, stdout: '' });
    expect(usage.stderr).toContain('--bogus');
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toContain('Usage: fractal-sandbox');
  }, 30_000);

  it('shuts down cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register', path.join(__dirname, '../lib/sandbox/cli.ts')], {
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let stdout = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          if (/resource\s+http/.test(stdout)) resolve();
        });
        child.once('exit', (code) => reject(new Error(`CLI exited early with ${code}`)));
      });
      const frontend = /frontend\s+(\S+)/.exec(stdout)?.[1] as string;
      expect((await fetch(`${frontend}/nope`)).status).toBe(404);
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 20_000);
});

/**
 * A copy of lib/ next to a node_modules that links every installed package but express: Node itself
 * then fails to resolve `express` from the sandbox's files, as in an app that never installed it.
 * (Linked packages resolve their own dependencies from where they really are, so nothing else changes.)
 */
function appWithoutExpress(fakeExpress?: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'fractal-sandbox-no-express-'));
  const repo = path.join(__dirname, '..');
  cpSync(path.join(repo, 'lib'), path.join(root, 'lib'), { recursive: true });
  cpSync(path.join(repo, 'tsconfig.json'), path.join(root, 'tsconfig.json'));
  const installed = path.join(repo, 'node_modules');
  mkdirSync(path.join(root, 'node_modules'));
  for (const name of readdirSync(installed)) {
    if (name !== 'express' && !name.startsWith('.')) symlinkSync(path.join(installed, name), path.join(root, 'node_modules', name));
  }
  if (fakeExpress) {
    mkdirSync(path.join(root, 'node_modules', 'express'));
    for (const [file, text] of Object.entries(fakeExpress)) writeFileSync(path.join(root, 'node_modules', 'express', file), text);
  }
  return root;
}

describe('fractal-sandbox without express (an optional peer dependency)', () => {
  const roots: string[] = [];
  afterAll(() => {
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  });

  it('says in one line how to install it and exits 2, without a stack', async () => {
    const root = appWithoutExpress();
    roots.push(root);
    const run = await sandboxCli(['--redirect-uri', 'http://localhost:3000/auth/fractal/callback'], root);
    expect(run).toEqual({ code: 2, stdout: '', stderr: `${MISSING_EXPRESS}\n` });
    expect(MISSING_EXPRESS).toContain('npm i -D express');
  }, 30_000);

  it('--help still works', async () => {
    const root = appWithoutExpress();
    roots.push(root);
    const help = await sandboxCli(['--help'], root);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toContain('Usage: fractal-sandbox');
  }, 30_000);

  it('a module missing inside an installed express is not mistaken for express: the usual run-time failure, exit 1', async () => {
    // Its message names another module, and its require stack names express's own files.
    const root = appWithoutExpress({
      'package.json': '{"name":"express","version":"5.0.0","main":"index.js"}',
      'index.js': "module.exports = require('express-missing-dependency');\n",
    });
    roots.push(root);
    const run = await sandboxCli([], root);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^fractal-sandbox: MODULE_NOT_FOUND: Cannot find module 'express-missing-dependency'/);
    expect(run.stderr).not.toContain(MISSING_EXPRESS);
  }, 30_000);
});
