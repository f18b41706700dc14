import type { Cluster, Redis } from 'ioredis';

/** A pattern subscription whose owner must know when messages may have been missed. */
export interface PatternWatch {
  /** A message arrived on a channel matching the pattern. */
  onMessage(channel: string): void;
  /** The pattern is subscribed on the current connection: from now on, no message is missed. */
  onConfirmed(): void;
  /** The connection closed, is reconnecting or is being replaced: messages may be missed until the next `onConfirmed`. */
  onDown(): void;
}

/** The part of an ioredis connection in subscriber mode that we use. */
interface Connection {
  readonly status: string;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'pmessage', listener: (pattern: string, channel: string, message: string) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'connect' | 'ready' | 'close' | 'reconnecting' | 'end', listener: () => void): unknown;
  readonly stream?: { unref?(): unknown };
  subscribe(...channels: string[]): Promise<unknown>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  psubscribe(...patterns: string[]): Promise<unknown>;
  disconnect(): void;
}

const noop = (): void => undefined;

/** Escapes Redis glob characters (`*`, `?`, `[`, `]`, `\`) so that a prefix in a PSUBSCRIBE pattern matches only itself. */
export function escapeGlob(value: string): string {
  return value.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * Change notifications (SUBSCRIBE / PSUBSCRIBE) on one dedicated connection, created on first need.
 *
 * On a Cluster we do not use ioredis's own cluster subscriber: it moves to another node silently
 * (a killed connection, a node leaving the pool) and resubscribes without telling anyone, so a
 * cache fed by the notifications would keep entries whose change messages were published while
 * it was moving, for up to its TTL. Instead this class holds a plain connection to one node (a
 * PUBLISH on a Cluster reaches every node over the cluster bus), sees every close and reconnect
 * itself, and moves to another node only when that one stays unreachable. Any such event is
 * reported through {@link PatternWatch.onDown}, and `onConfirmed` only follows a PSUBSCRIBE
 * answered on the connection that is current at that moment.
 *
 * @see https://redis.io/docs/latest/develop/interact/pubsub/ (Pub/Sub and Redis Cluster)
 */
export class ChangeNotifications {
  readonly #source: Redis | Cluster;
  readonly #channels = new Map<string, Set<() => void>>();
  readonly #patterns = new Map<string, PatternWatch>();
  #connection: Connection | undefined;
  /** Counts connection troubles, so a confirmation that belongs to an older connection is ignored. */
  #generation = 0;
  #waitingForNodes = false;
  /** Connections to Cluster nodes that ended in a row, for the backoff before the next. */
  #restarts = 0;
  #subscribed: (() => void)[] = [];

  constructor(source: Redis | Cluster) {
    this.#source = source;
  }

  /**
   * Calls `listener` on each message on `channel`. Resolves once the channel is subscribed (or
   * when the connection is not up yet: then on its next subscription); never rejects.
   */
  listen(channel: string, listener: () => void): Promise<void> {
    const existing = this.#channels.get(channel);
    if (existing) {
      existing.add(listener);
      return Promise.resolve();
    }
    this.#channels.set(channel, new Set([listener]));
    const connection = this.#connect();
    if (connection?.status === 'ready') return connection.subscribe(channel).then(noop, noop);
    return new Promise((resolve) => this.#subscribed.push(resolve));
  }

  unlisten(channel: string, listener: () => void): void {
    const set = this.#channels.get(channel);
    if (!set) return;
    set.delete(listener);
    if (set.size > 0) return;
    this.#channels.delete(channel);
    if (this.#connection?.status === 'ready') this.#connection.unsubscribe(channel).catch(noop);
  }

  /** Subscribes `pattern` for `watch` (one watch per pattern); see {@link PatternWatch}. */
  watch(pattern: string, watch: PatternWatch): void {
    this.#patterns.set(pattern, watch);
    const connection = this.#connect();
    if (connection?.status === 'ready') void this.#psubscribe(connection, pattern);
  }

  /** Ends the connection and forgets every listener and watch (a later `listen` or `watch` opens a new one). */
  close(): void {
    const connection = this.#connection;
    this.#connection = undefined;
    connection?.disconnect();
    this.#channels.clear();
    this.#patterns.clear();
    for (const resolve of this.#subscribed.splice(0)) resolve();
  }

  #connect(): Connection | undefined {
    if (this.#connection) return this.#connection;
    const connection = this.#open();
    if (!connection) return undefined;
    this.#connection = connection;
    // Connection errors surface through the stores' own operations; never crash on them here.
    connection.on('error', noop);
    connection.on('message', (channel) => {
      for (const listener of this.#channels.get(channel) ?? []) listener();
    });
    connection.on('pmessage', (pattern, channel) => this.#patterns.get(pattern)?.onMessage(channel));
    const down = (): void => {
      // A connection replaced (or closed by close()) is not the current one: ignore its events.
      if (this.#connection !== connection) return;
      this.#generation++;
      for (const watch of this.#patterns.values()) watch.onDown();
    };
    connection.on('close', down);
    connection.on('reconnecting', down);
    connection.on('end', () => {
      down();
      if (this.#connection !== connection) return;
      this.#connection = undefined;
      // A plain client that ended follows its own retryStrategy, which gave up: so do we (as
      // ioredis would). On a Cluster, this node gave up: try another one, backing off while none answers.
      if (!this.#source.isCluster || (this.#channels.size === 0 && this.#patterns.size === 0)) return;
      const delay = Math.min(2000, 100 * 2 ** this.#restarts++);
      setTimeout(() => this.#connect(), delay).unref();
    });
    // A connection of our own that the app never asked for (the record cache is on by default) must
    // not keep a process alive: the app's own client does that while the app wants it. Without this,
    // a script that used the vault and forgot `store.close()` would never exit.
    connection.on('connect', () => connection.stream?.unref?.());
    connection.on('ready', () => {
      if (this.#connection !== connection) return;
      this.#restarts = 0;
      this.#subscribeAll(connection);
    });
    return connection;
  }

  #open(): Connection | undefined {
    const overrides = { lazyConnect: false, enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: false };
    if (!this.#source.isCluster) return (this.#source as Redis).duplicate(overrides) as unknown as Connection;
    const cluster = this.#source as Cluster;
    const nodes = cluster.nodes('all');
    const node = nodes[Math.floor(Math.random() * nodes.length)];
    if (!node) {
      // No node known yet (the cluster client is still connecting): try again once it is ready.
      if (!this.#waitingForNodes) {
        this.#waitingForNodes = true;
        cluster.once('ready', () => {
          this.#waitingForNodes = false;
          if (this.#channels.size > 0 || this.#patterns.size > 0) this.#connect();
        });
      }
      return undefined;
    }
    // A few quick retries on the same node, then 'end' and another node (see the 'end' handler).
    const retryStrategy = (times: number): number | null => (times > 3 ? null : 100 * times);
    return node.duplicate({ ...overrides, retryStrategy }) as unknown as Connection;
  }

  #subscribeAll(connection: Connection): void {
    const jobs: Promise<unknown>[] = [];
    const channels = [...this.#channels.keys()];
    if (channels.length > 0) jobs.push(connection.subscribe(...channels));
    for (const pattern of this.#patterns.keys()) jobs.push(this.#psubscribe(connection, pattern));
    Promise.allSettled(jobs).then(() => {
      for (const resolve of this.#subscribed.splice(0)) resolve();
    });
  }

  #psubscribe(connection: Connection, pattern: string): Promise<void> {
    const generation = this.#generation;
    return connection.psubscribe(pattern).then(() => {
      if (generation === this.#generation && this.#connection === connection) this.#patterns.get(pattern)?.onConfirmed();
    }, noop);
  }
}
