import { createHash } from 'node:crypto';
import type { Response } from 'express';
import type { Redis } from 'ioredis';

const CHANNEL = 'example:session-ended';

/** Open `/profile/events` streams by user is capped at this, per process, by default. */
export const DEFAULT_STREAMS_PER_USER = 5;

interface OpenStream {
  userId: string;
  session: string;
  res: Response;
}

/**
 * The server-sent-event streams of this process, so that a logout ends its session's streams
 * (also when it happens on another process: the logout is announced over Redis pub/sub, like
 * the KYC feed) and one user cannot hold an unbounded number of them open.
 *
 * Sessions are named by a SHA-256 of their id, so the channel never carries a usable session id.
 */
export class SessionStreams {
  readonly #open = new Set<OpenStream>();
  readonly #perUser: number;
  readonly #publisher: Redis | undefined;
  #subscriber: Redis | undefined;
  #ready: Promise<void> | undefined;

  constructor(options: { redis?: Redis; perUser?: number } = {}) {
    this.#publisher = options.redis;
    this.#perUser = options.perUser ?? DEFAULT_STREAMS_PER_USER;
  }

  /**
   * Registers a stream; `false` when the user already has the maximum open (answer 429). The
   * stream is forgotten when its response closes.
   */
  open(userId: string, sessionId: string, res: Response): boolean {
    let count = 0;
    for (const stream of this.#open) if (stream.userId === userId) count++;
    if (count >= this.#perUser) return false;
    void this.#listen();
    const stream: OpenStream = { userId, session: digest(sessionId), res };
    this.#open.add(stream);
    res.on('close', () => this.#open.delete(stream));
    return true;
  }

  /** Ends the session's streams here and, with Redis, in every other process. */
  async endSession(sessionId: string): Promise<void> {
    const session = digest(sessionId);
    this.#close(session);
    if (this.#publisher) await this.#publisher.publish(CHANNEL, session).catch(() => undefined);
  }

  /** Resolves once this process receives other processes' logouts (tests; start-up). */
  ready(): Promise<void> {
    return this.#listen();
  }

  close(): void {
    for (const stream of this.#open) stream.res.end();
    this.#open.clear();
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
    this.#ready = undefined;
  }

  #close(session: string): void {
    for (const stream of [...this.#open]) {
      if (stream.session !== session) continue;
      this.#open.delete(stream);
      stream.res.end();
    }
  }

  /** Subscribed on the first stream: a subscribed connection can run nothing else, so it is a second one. */
  #listen(): Promise<void> {
    if (!this.#publisher) return Promise.resolve();
    if (this.#ready) return this.#ready;
    // Queue the SUBSCRIBE until connected, whatever the app client's offline-queue setting.
    const subscriber = this.#publisher.duplicate({ enableOfflineQueue: true });
    this.#subscriber = subscriber;
    subscriber.on('error', () => undefined);
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === CHANNEL) this.#close(message);
    });
    this.#ready = subscriber.subscribe(CHANNEL).then(
      () => undefined,
      () => undefined,
    );
    return this.#ready;
  }
}

function digest(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('base64url');
}
