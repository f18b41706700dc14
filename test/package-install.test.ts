import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * What an app author gets: the tarball `npm pack` makes, installed with the README's Install line
 * into throwaway apps on both supported stacks, type-checked (node16 and node10 resolution) and
 * signing in through the Quick start file against the sandbox of the installed package. Slow (npm
 * install, tsc): run by `npm run test:package` (and .ci/run), not by `npm test`.
 */
const run = promisify(execFile);
const root = join(__dirname, '..');
const fixtures = join(__dirname, 'fixtures', 'package-app');
const tsc = (dir: string, project: string) => run(process.execPath, [join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: dir });

// The README's Install line, with the stack of each app pinned.
const README_INSTALL = ['passport', 'express', 'express-session', 'connect-redis@^8', 'ioredis'];
const STACKS = [
  { name: 'express 4 + passport 0.6 + ioredis 5', pins: ['express@^4', 'passport@~0.6.0', 'ioredis@^5', '@types/express@^4'] },
  { name: 'express 5 + passport 0.7 + ioredis 6', pins: ['express@^5', 'passport@~0.7.0', 'ioredis@^6', '@types/express@^5'] },
];
const TYPESCRIPT = ['typescript@~5.9', '@types/node@^20', '@types/express-session@^1'];

let work: string;
let tarball: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'pfi-package-'));
  const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', work], { cwd: root });
  tarball = join(work, stdout.trim().split('\n').pop() ?? '');
}, 180_000);
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

it('packs the built library, the browser embed script and README only: no sources, tests or source maps', async () => {
  const { stdout } = await run('tar', ['-tzf', tarball]);
  const files = stdout.trim().split('\n');
  expect(files).toContain('package/dist/index.js');
  expect(files).toContain('package/dist/sandbox/index.d.ts');
  expect(files).toContain('package/README.md');
  expect(files.filter((f) => !/^package\/(dist\/.*\.(js|d\.ts)|browser\/fractal-embed\.js|README\.md|package\.json)$/.test(f))).toEqual([]);
});

describe.each(STACKS)('a new app on $name', ({ pins }) => {
  let app: string;

  beforeAll(async () => {
    app = join(work, pins.join('_').replace(/[^a-z0-9_.]/gi, ''));
    await run('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'throwaway', version: '1.0.0', private: true }));
    const names = new Set(pins.map((p) => p.replace(/(.)@.*$/, '$1')));
    const install = [tarball, ...README_INSTALL.filter((p) => !names.has(p.replace(/(.)@.*$/, '$1'))), ...pins, ...TYPESCRIPT];
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...install], { cwd: app });
    copyFileSync(join(root, 'examples', 'quick-start.ts'), join(app, 'quick-start.ts'));
    for (const file of ['drive.cjs', 'types-check.ts', 'tsconfig.json', 'tsconfig.node10.json']) copyFileSync(join(fixtures, file), join(app, file));
  }, 300_000);

  it('gets one passport (ours is a peer) and no express, ioredis or session store of ours', () => {
    const copies = (name: string) => findPackages(join(app, 'node_modules'), name);
    expect(copies('passport')).toEqual([join(app, 'node_modules', 'passport')]);
    expect(copies('express')).toEqual([join(app, 'node_modules', 'express')]);
    expect(copies('ioredis')).toEqual([join(app, 'node_modules', 'ioredis')]);
    expect(existsSync(join(app, 'node_modules', 'passport-fractal-id', 'node_modules'))).toBe(false);
  });

  it('type-checks the Quick start and Redis options with moduleResolution node16', async () => {
    await expect(tsc(app, 'tsconfig.json')).resolves.toBeDefined();
  }, 120_000);

  it('type-checks them with moduleResolution node10 too (the sandbox subpath resolves)', async () => {
    await expect(tsc(app, 'tsconfig.node10.json')).resolves.toBeDefined();
  }, 120_000);

  it('signs in through the Quick start against the sandbox, session saved in Redis; a refusal gets a typed code', async () => {
    // Built by the node16 check above (jest runs a file's tests in order).
    const { stdout } = await run(process.execPath, ['drive.cjs'], { cwd: app, env: { ...process.env } });
    const seen = JSON.parse(stdout);
    expect(seen.approved.authorizeOrigin).toBe(seen.frontend);
    expect(seen.approved).toMatchObject({ callbackStatus: 302, location: '/profile', profileStatus: 200 });
    expect(seen.approved.profile).toEqual({ id: expect.any(String), kycStatus: expect.any(String), scopes: expect.arrayContaining(['verification.basic:read']) });
    expect(seen.storedSession.passport.user.id).toBe(seen.approved.profile.id);
    expect(seen.denied).toMatchObject({ callbackStatus: 403 });
    expect(seen.denied.body).toContain('Sign-in failed (access_denied)');
  }, 60_000);
});

/** Every installed copy of a package (node_modules/<name> at any depth). */
function findPackages(dir: string, name: string): string[] {
  const found: string[] = [];
  if (!existsSync(dir)) return found;
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (entry.startsWith('@')) {
      for (const scoped of readdirSync(path)) found.push(...findPackages(join(path, scoped, 'node_modules'), name));
      continue;
    }
    if (entry === name && existsSync(join(path, 'package.json')) && JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')).name === name) found.push(path);
    found.push(...findPackages(join(path, 'node_modules'), name));
  }
  return found;
}
