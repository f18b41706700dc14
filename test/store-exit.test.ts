import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Runs `script` in a child process and returns what it printed. It must exit by itself: a process
 * still running at the 20 s timeout is killed and the call rejects.
 */
async function outputOf(script: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
    cwd: `${__dirname}/..`,
    timeout: 20_000,
  });
  return stdout.trim();
}

/**
 * The record cache is on by default, so a RedisTokenStore opens a notification connection of its
 * own. A script that used the vault and never called `store.close()` must still exit once the
 * app's own client is gone: our connection may not hold the process.
 */
it('a process whose app client disconnected exits although the store was never closed', async () => {
  const script = `
    const { Redis } = require('ioredis');
    const { RedisTokenStore } = require('./lib/tokens');
    const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
    const client = new Redis({ host: url.hostname, port: Number(url.port || 6379) });
    const store = new RedisTokenStore({ client, prefix: 'pfi-exit-' + process.pid + ':' });
    (async () => {
      await store.set('u', 'data', 60000);
      await store.get('u', { cached: true });
      await store.get('u', { cached: true });
      await store.delete('u');
      // delete() keeps the record's version for a while (a tombstone: a stale write elsewhere cannot bring it back): remove it too.
      await client.del(store.keysFor('u').tokens);
      await client.quit();
      console.log('done');
    })();
  `;
  expect(await outputOf(script)).toBe('done');
});

/** The same for RedisKycCache, whose per-process layer (on by default) subscribes on its first read. */
it('a process whose app client disconnected exits although the KYC cache was never closed', async () => {
  const script = `
    const { Redis } = require('ioredis');
    const { RedisKycCache } = require('./lib/kyc');
    const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
    const client = new Redis({ host: url.hostname, port: Number(url.port || 6379) });
    const cache = new RedisKycCache({ client, prefix: 'pfi-exit-kyc-' + process.pid + ':' });
    (async () => {
      const { generation } = await cache.read('u');
      await cache.write('u', generation, { scopes: 'uid:read', cases: [], fetchedAt: Date.now() });
      await cache.read('u');
      await new Promise((resolve) => setTimeout(resolve, 200));
      await cache.read('u');
      await cache.invalidate('u');
      await client.del('pfi-exit-kyc-' + process.pid + ':{u}:gen');
      await client.quit();
      console.log('done');
    })();
  `;
  expect(await outputOf(script)).toBe('done');
});
