import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback in front of a Redis, to inject network faults between a real client and
 * a real server without mocking either: a slow link, or a connection that dies in the middle of a
 * command. Test-sized traffic only: it does no backpressure.
 */
export interface TcpProxy {
  readonly host: '127.0.0.1';
  readonly port: number;
  /**
   * Holds every chunk, in both directions, for `ms` before forwarding it, keeping the order of each
   * direction. `delay(0)` goes back to forwarding at once (after the chunks already held).
   */
  delay(ms: number): void;
  /**
   * Arms a fault on the next client-to-server chunk (the next one that `match`es, when given).
   * Resolves when it fired, so a test can prove the fault really happened.
   */
  dropNext(options?: DropOptions): Promise<void>;
  /** Forgets an armed drop that has not fired (its promise then never settles). */
  disarm(): void;
  /** Client connections currently open through the proxy. */
  readonly connections: number;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

/**
 * - `'unsent'`: both sockets are destroyed and the chunk never reaches the server (the command
 *   was not executed; the client cannot know).
 * - `'reply-lost'`: the chunk reaches the server, and the client's socket is destroyed at once, so
 *   the reply never comes back (the command WAS executed; the client cannot know either).
 */
export type DropMode = 'unsent' | 'reply-lost';

export interface DropOptions {
  mode?: DropMode;
  /**
   * Only a chunk containing this: a string (ASCII, case-insensitive: ioredis sends command names
   * as the caller spelled them) or a RegExp over the chunk as latin1. A pattern split across two
   * chunks is not seen; commands of the size the stores send arrive in one chunk on loopback.
   */
  match?: string | RegExp;
}

interface ArmedDrop {
  mode: DropMode;
  matches: (chunk: Buffer) => boolean;
  fired: () => void;
}

/**
 * One direction of one connection. Chunks are released strictly in arrival order, each no earlier
 * than its arrival + the delay in force when it arrived: one timer for the head of the queue, so a
 * chunk that arrived after `delay(0)` can never overtake one that is still held.
 */
class Lane {
  readonly #queue: { chunk: Buffer; at: number; written?: () => void }[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly target: Socket,
    readonly delayMs: () => number,
  ) {}

  push(chunk: Buffer, written?: () => void): void {
    const delay = this.delayMs();
    if (delay === 0 && this.#queue.length === 0) {
      this.#write(chunk, written);
      return;
    }
    this.#queue.push({ chunk, at: Date.now() + delay, ...(written && { written }) });
    this.#schedule();
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
  }

  #schedule(): void {
    const head = this.#queue[0];
    if (this.#timer || !head) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      while (this.#queue[0] && this.#queue[0].at <= Date.now()) {
        const { chunk, written } = this.#queue.shift()!;
        this.#write(chunk, written);
      }
      this.#schedule();
    }, Math.max(0, head.at - Date.now()));
  }

  #write(chunk: Buffer, written?: () => void): void {
    // The other side may be gone (a fault, or close()): what it would have received is lost.
    if (this.target.destroyed) return;
    this.target.write(chunk, () => written?.());
  }
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let delayMs = 0;
  let armed: ArmedDrop | undefined;
  const pairs = new Set<{ client: Socket; upstream: Socket; lanes: Lane[] }>();

  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    const toServer = new Lane(upstream, () => delayMs);
    const toClient = new Lane(client, () => delayMs);
    const pair = { client, upstream, lanes: [toServer, toClient] };
    pairs.add(pair);
    // In 'reply-lost' mode the upstream outlives the client until the server has answered.
    let upstreamOutlivesClient = false;
    const destroyBoth = (): void => {
      for (const lane of pair.lanes) lane.clear();
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    // ECONNRESET and the like are expected here; never let them crash the test process.
    client.on('error', destroyBoth);
    upstream.on('error', destroyBoth);
    upstream.on('close', destroyBoth);
    client.on('close', () => {
      if (!upstreamOutlivesClient) destroyBoth();
    });

    client.on('data', (chunk: Buffer) => {
      const drop = armed;
      if (!drop?.matches(chunk)) {
        toServer.push(chunk);
        return;
      }
      armed = undefined;
      if (drop.mode === 'unsent') {
        destroyBoth();
      } else {
        upstreamOutlivesClient = true;
        toServer.push(chunk, () => {
          // Sent: wait for the server's answer (proof it ran the command), then drop that too.
          upstream.once('data', destroyBoth);
          setTimeout(destroyBoth, 10_000).unref();
        });
        toClient.clear();
        client.destroy();
      }
      drop.fired();
    });
    upstream.on('data', (chunk: Buffer) => toClient.push(chunk));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('The TCP proxy did not get a port');

  return {
    host: '127.0.0.1',
    port: address.port,
    delay(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new Error(`delay(ms) needs a non-negative number, got ${ms}`);
      delayMs = ms;
    },
    dropNext({ mode = 'unsent', match } = {}) {
      if (armed) throw new Error('dropNext: a drop is already armed');
      return new Promise<void>((fired) => {
        armed = { mode, matches: matcher(match), fired };
      });
    },
    disarm() {
      armed = undefined;
    },
    get connections() {
      return pairs.size;
    },
    async close() {
      armed = undefined;
      for (const pair of pairs) {
        for (const lane of pair.lanes) lane.clear();
        pair.client.destroy();
        pair.upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function matcher(match: string | RegExp | undefined): (chunk: Buffer) => boolean {
  if (match === undefined) return () => true;
  if (typeof match === 'string') {
    const needle = match.toLowerCase();
    return (chunk) => chunk.toString('latin1').toLowerCase().includes(needle);
  }
  return (chunk) => match.test(chunk.toString('latin1'));
}
