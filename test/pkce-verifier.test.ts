import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Issue 14 item 15: the PKCE code_verifier comes from the CSPRNG (32 bytes, base64url:
 * RFC 7636 section 4.1), not from passport-oauth2's deprecated `crypto.pseudoRandomBytes`. Node
 * reports that deprecation (DEP0115) only under `--pending-deprecation`, so the sign-in start runs
 * in a child process with that flag.
 */

const FIXTURE = join(__dirname, 'fixtures', 'pkce-start.ts');

it('starts a sign-in with an S256 challenge and without the deprecated pseudoRandomBytes (DEP0115)', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--pending-deprecation', '-r', 'ts-node/register/transpile-only', FIXTURE], {
    cwd: join(__dirname, '..'),
    timeout: 60_000,
  });
  const result = JSON.parse(stdout) as { status: number; challenge: string | null; method: string | null; warnings: string[] };
  expect(result.status).toBe(302);
  // BASE64URL(SHA-256(verifier)) is always 43 characters (RFC 7636 section 4.2).
  expect(result.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(result.method).toBe('S256');
  expect(result.warnings).not.toContain('DEP0115');
}, 60_000);
