import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = `${__dirname}/..`;

// The published shape: `exports` must resolve for require() and for TypeScript (node16 resolution)
// from the built `dist/`, exactly as an installed package would.
describe('package entry points', () => {
  beforeAll(async () => {
    await run('npm', ['run', '--silent', 'build'], { cwd: root });
  }, 120_000);

  it('can be required by name from plain JavaScript', async () => {
    const script = `
      const lib = require('passport-fractal-id');
      const sandbox = require('passport-fractal-id/sandbox');
      const s = new lib.FractalStrategy({ clientID: 'a', clientSecret: 'b', callbackURL: 'https://x.example/cb' }, () => {});
      console.log(JSON.stringify({
        name: s.name,
        kyc: lib.kycScopes('basic'),
        errors: typeof lib.isFractalError,
        startSandbox: typeof sandbox.startSandbox,
        parent: Object.getPrototypeOf(lib.FractalStrategy).name,
        embedScript: require('node:fs').existsSync(lib.FRACTAL_EMBED_SCRIPT_PATH)
          && require.resolve('passport-fractal-id/browser/fractal-embed.js') === lib.FRACTAL_EMBED_SCRIPT_PATH,
      }));`;
    const { stdout } = await run(process.execPath, ['-e', script], { cwd: root });
    expect(JSON.parse(stdout)).toEqual({
      name: 'fractal',
      kyc: ['uid:read', 'verification.basic:read'],
      errors: 'function',
      startSandbox: 'function',
      parent: 'OAuth2Strategy',
      // The browser script ships beside dist/ and dist/strategy finds it (package.json "files", "exports").
      embedScript: true,
    });
  });

  it('type-checks the example app against the built declarations, as a TypeScript user would', async () => {
    // example-app/tsconfig.json has no path mapping: 'passport-fractal-id' resolves through package.json exports.
    await expect(run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'example-app/tsconfig.json', '--noEmit'], { cwd: root })).resolves.toBeDefined();
  }, 120_000);
});
