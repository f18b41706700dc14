import type { Cluster, Redis } from 'ioredis';

/** Stable codes of {@link VaultCheckWarning}; branch on them, not on messages. */
export type VaultCheckCode =
  /** `maxmemory-policy` lets Redis evict token records (they all have a TTL, so `volatile-*` does too). */
  | 'eviction_policy'
  /** Neither AOF nor RDB: a Redis restart loses every stored grant. */
  | 'no_persistence'
  /** RDB snapshots only: a restart loses what was written since the last snapshot. */
  | 'snapshot_persistence'
  /** `CONFIG GET` was refused (managed Redis, ACL): the settings must be checked by hand. */
  | 'settings_unknown'
  /** The store did not answer the check. */
  | 'store_unavailable'
  /** `MemoryTokenStore`: one process, and a restart loses every grant. */
  | 'memory_store'
  /** A custom store without `checkSettings()`: nothing could be checked. */
  | 'store_not_checked';

export interface VaultCheckWarning {
  code: VaultCheckCode;
  /** What is at risk and what to set, in plain words; holds no secret. */
  message: string;
}

/** What `vault.check()` found: `ok` when nothing puts stored grants at risk. */
export interface VaultCheckResult {
  ok: boolean;
  warnings: VaultCheckWarning[];
}

const CHECK_TIMEOUT_MS = 2000;

/**
 * Reads the settings of every Redis node that holds token records and says what puts them at
 * risk. Token records carry a TTL (`recordTtlMs`), so any evicting policy may drop them under
 * memory pressure and sign users out (https://redis.io/docs/latest/develop/reference/eviction/);
 * and a refresh rotates the refresh token, so a record restored from an old snapshot holds a
 * refresh token the provider has already revoked (https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/).
 */
export async function checkRedisSettings(client: Redis | Cluster): Promise<VaultCheckWarning[]> {
  const nodes = isCluster(client) ? client.nodes('master') : [client];
  const warnings = new Map<VaultCheckCode, VaultCheckWarning>();
  for (const node of nodes) {
    for (const warning of await checkNode(node)) if (!warnings.has(warning.code)) warnings.set(warning.code, warning);
  }
  return [...warnings.values()];
}

async function checkNode(node: Redis): Promise<VaultCheckWarning[]> {
  let policy: string;
  let maxmemory: string;
  let save: string;
  let appendonly: string;
  try {
    [policy, maxmemory, save, appendonly] = await Promise.all(['maxmemory-policy', 'maxmemory', 'save', 'appendonly'].map((name) => configGet(node, name)));
  } catch (err) {
    const message = err instanceof Error ? err.message : '';
    // Refused (renamed or ACL-denied CONFIG, as on most managed services) is not an outage.
    if (/unknown command|NOPERM|no permissions|not allowed|unknown subcommand/i.test(message)) {
      return [
        {
          code: 'settings_unknown',
          message:
            'Redis refused CONFIG GET, so its settings could not be checked: make sure maxmemory-policy is noeviction and that AOF persistence (appendonly yes) is on.',
        },
      ];
    }
    return [{ code: 'store_unavailable', message: 'Redis did not answer CONFIG GET in time; its settings were not checked.' }];
  }
  const warnings: VaultCheckWarning[] = [];
  if (policy !== 'noeviction') {
    const limit = maxmemory === '0' ? 'once maxmemory is set (it is 0, unlimited, now)' : `when its maxmemory (${maxmemory} bytes) is reached`;
    warnings.push({
      code: 'eviction_policy',
      message: `Redis maxmemory-policy is ${policy}: ${limit} Redis may evict token records, which all have a TTL, and sign users out. Set maxmemory-policy noeviction (writes then fail with 503 instead of losing grants), or give the tokens their own Redis.`,
    });
  }
  const aof = appendonly === 'yes';
  const rdb = save.trim() !== '';
  if (!aof && !rdb) {
    warnings.push({
      code: 'no_persistence',
      message: 'Redis has no persistence (appendonly no, save ""): a restart loses every stored grant and signs every user out. Set appendonly yes (appendfsync everysec or always).',
    });
  } else if (!aof) {
    warnings.push({
      code: 'snapshot_persistence',
      message: `Redis persists with RDB snapshots only (save "${save}"): a restart loses the records written since the last snapshot, and a restored record may hold a refresh token already rotated away. Set appendonly yes.`,
    });
  }
  return warnings;
}

async function configGet(node: Redis, name: string): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS);
  });
  try {
    const reply = (await Promise.race([node.call('config', 'get', name), timeout])) as unknown;
    // [name, value]; an unknown parameter gives an empty array.
    return Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : '';
  } finally {
    clearTimeout(timer);
  }
}

function isCluster(client: Redis | Cluster): client is Cluster {
  return typeof (client as Cluster).nodes === 'function' && (client as { isCluster?: boolean }).isCluster === true;
}
