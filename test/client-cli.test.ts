import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { runCli } from '../lib/client/cli';
import { seedUsers, startClientSandbox, tokenRequests, type ClientSandbox } from './helpers/client-sandbox';

const CLI = join(__dirname, '..', 'lib', 'client', 'cli.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `fractal-stats` as a child process, the way `npx fractal-stats` would, with only the given environment. */
function fractalStats(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', CLI, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

let env: ClientSandbox;
let users: { alice: string; bob: string; carol: string };
let credentials: Record<string, string>;
beforeAll(async () => {
  env = await startClientSandbox();
  users = seedUsers(env.sandbox);
  credentials = {
    FRACTAL_CLIENT_ID: env.credentials.clientID,
    FRACTAL_CLIENT_SECRET: env.credentials.clientSecret,
    FRACTAL_AUTH_URL: env.sandbox.domains.auth,
    FRACTAL_RESOURCE_URL: env.sandbox.domains.resource,
  };
});
afterAll(async () => {
  await env.close();
});

test('prints the totals, the per-country counts and the requested users as tables', async () => {
  const run = await fractalStats(['--env', 'staging', '--users', `${users.bob},nobody`], credentials);

  expect(run).toMatchObject({ code: 0, stderr: '' });
  const lines = run.stdout.split('\n');
  expect(lines[0]).toBe('Total verifications (staging)');
  expect(lines).toContain('approved       1');
  expect(lines).toContain('pending        1');
  expect(lines).toContain('Verifications by country');
  expect(lines).toContain('country  approved  contacted  rejected  pending');
  // FR lists only `rejected` (application-statistics.md): the other statuses print as 0.
  expect(lines).toContain('DE              1          1         0        1');
  expect(lines).toContain('FR              0          0         1        0');
  expect(lines).toContain('User verifications');
  expect(run.stdout).toMatch(new RegExp(`${users.bob}\\s+basic\\s+rejected`));
  expect(run.stdout).not.toContain(users.alice);
  expect(run.stdout).toMatch(/nobody\s+-\s+no verification/);
  expect(run.stdout).not.toContain(env.credentials.clientSecret);
});

test('prints JSON with --json, including the users asked for with --users', async () => {
  const before = tokenRequests(env.sandbox);
  const run = await fractalStats(['--env', 'staging', '--json', '--users', `${users.alice},unknown-id`], credentials);

  expect(run.code).toBe(0);
  expect(JSON.parse(run.stdout)).toEqual({
    environment: 'staging',
    total: { approved: 1, contacted: 1, rejected: 1, pending: 1 },
    countries: { DE: { approved: 1, contacted: 1, pending: 1 }, FR: { rejected: 1 } },
    users: [
      { user_id: users.alice, level: 'basic', credential: 'approved' },
      { user_id: users.alice, level: 'liveness', credential: 'pending' },
    ],
  });
  // One app token for the three requests of the run.
  expect(tokenRequests(env.sandbox) - before).toBe(1);
});

test('--all-users prints every user verification as the provider lists them', async () => {
  const run = await fractalStats(['--env', 'staging', '--all-users'], credentials);
  expect(run).toMatchObject({ code: 0, stderr: '' });
  expect(run.stdout).toMatch(/user\s+level\s+credential/);
  for (const [uid, level, credential] of [
    [users.alice, 'basic', 'approved'],
    [users.alice, 'liveness', 'pending'],
    [users.bob, 'basic', 'rejected'],
    [users.carol, 'plus', 'contacted'],
  ]) {
    expect(run.stdout).toMatch(new RegExp(`${uid}\\s+${level}\\s+${credential}`));
  }
});

test('exits 2 with a clear message when credentials are missing, before any request', async () => {
  const before = env.sandbox.counts();
  const run = await fractalStats(['--env', 'staging'], { FRACTAL_CLIENT_ID: 'someone', FRACTAL_AUTH_URL: env.sandbox.domains.auth });

  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr).toContain('FRACTAL_CLIENT_SECRET');
  expect(run.stderr).not.toContain('FRACTAL_CLIENT_ID and');
  expect(env.sandbox.counts().token).toEqual(before.token);
});

test('exits 1 with the error code when the provider refuses, never printing the secret', async () => {
  const run = await fractalStats([], { ...credentials, FRACTAL_CLIENT_SECRET: 'not-the-secret-123' });

  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(/^fractal-stats: invalid_client: /);
  expect(run.stderr).not.toContain('not-the-secret-123');
});

describe('argument checks (in process: no request is made, so no child process is needed)', () => {
  const run = async (args: string[], overrides: Record<string, string> = {}) => {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, { ...credentials, ...overrides }, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
    return { code, stdout, stderr };
  };

  test('an unknown option exits 2 with the usage', async () => {
    await expect(run(['--verbose'])).resolves.toMatchObject({ code: 2, stdout: '', stderr: expect.stringContaining('Usage: fractal-stats') });
  });

  test('an unknown environment exits 2', async () => {
    await expect(run(['--env', 'prod'])).resolves.toMatchObject({ code: 2, stderr: expect.stringContaining('--env must be "production" or "staging"') });
  });

  test('an origin that is not https (outside loopback) or an empty --users list exits 2, before any request', async () => {
    const before = env.sandbox.counts().token;
    await expect(run([], { FRACTAL_AUTH_URL: 'http://auth.example.com' })).resolves.toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^fractal-stats: configuration_error: /) });
    await expect(run(['--users', ' , '])).resolves.toMatchObject({ code: 2, stdout: '', stderr: expect.stringContaining('--users needs at least one user id') });
    expect(env.sandbox.counts().token).toEqual(before);
  });

  test('--help prints the usage and the environment variables, and exits 0', async () => {
    const result = await run(['--help']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('FRACTAL_CLIENT_SECRET');
  });
});
