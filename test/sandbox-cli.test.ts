import { spawn } from 'node:child_process';
import path from 'node:path';
import { DEFAULT_REDIRECT_URI, runCli } from '../lib/sandbox/cli';
import { authorizeUrl, codeOf, exchangeCode } from './helpers/sandbox';

describe('fractal-sandbox CLI', () => {
  it('registers the given client and prints the three URLs', async () => {
    const out: string[] = [];
    const sandbox = await runCli(
      ['--client-id', 'cli-app', '--client-secret', 'cli-secret', '--redirect-uri', 'http://localhost:4000/cb', '--redirect-uri', 'http://localhost:4001/cb'],
      { out: (l) => out.push(l), err: (l) => out.push(l) },
    );
    if (!sandbox) throw new Error('expected a running sandbox');
    try {
      const text = out.join('\n');
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
    const sandbox = await runCli(['--response-shape', 'minimal', '--client-id', 'cli-min', '--client-secret', 'cli-min-secret'], { out: () => undefined, err: () => undefined });
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
    await expect(runCli(['--response-shape', 'tiny'], { out: () => undefined, err: () => undefined })).rejects.toThrow(/full" or "minimal/);
  });

  it('registers a client for the example app and prints its credentials when none is given', async () => {
    const out: string[] = [];
    const sandbox = await runCli([], { out: (l) => out.push(l), err: (l) => out.push(l) });
    if (!sandbox) throw new Error('expected a running sandbox');
    try {
      const id = /client_id\s+(\S+)/.exec(out.join('\n'))?.[1] as string;
      const secret = /client_secret\s+(\S+)/.exec(out.join('\n'))?.[1] as string;
      const client = { clientID: id, clientSecret: secret, redirectUri: DEFAULT_REDIRECT_URI };
      const location = await sandbox.authorize(authorizeUrl(sandbox, client));
      expect((await exchangeCode(sandbox, client, codeOf(location))).status).toBe(200);
    } finally {
      await sandbox.close();
    }
  });

  it('prints usage for --help and rejects unknown options', async () => {
    const out: string[] = [];
    expect(await runCli(['--help'], { out: (l) => out.push(l), err: () => undefined })).toBeUndefined();
    expect(out.join('\n')).toContain('--redirect-uri');
    await expect(runCli(['--bogus'], { out: () => undefined, err: () => undefined })).rejects.toThrow();
    await expect(runCli(['--port', 'abc'], { out: () => undefined, err: () => undefined })).rejects.toThrow(/--port/);
  });

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
