import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';

/** What an open profile page is told when a verification webhook arrives for its user. */
export interface KycUpdate {
  uid: string;
  level: string;
  status: string;
  credential?: string;
  timestamp: string;
}

const CHANNEL = 'example:kyc-updates';

/**
 * Fans webhook outcomes out to the server-sent-event streams of open profile pages. With Redis
 * the webhook may land on one process and the page's stream live on another, so updates travel
 * through Redis pub/sub; without Redis, an in-process emitter does (one process only).
 */
export class KycFeed {
  readonly #local = new EventEmitter();
  readonly #publisher?: Redis;
  #subscriber?: Redis;
  /** Settles once Redis confirmed the subscription: a PUBLISH before that reaches nobody. */
  #subscribed: Promise<void> = Promise.resolve();

  constructor(redis?: Redis) {
    this.#local.setMaxListeners(0);
    if (redis) this.#publisher = redis;
  }

  async publish(update: KycUpdate): Promise<void> {
    if (this.#publisher) await this.#publisher.publish(CHANNEL, JSON.stringify(update));
    else this.#emit(update);
  }

  /**
   * Listens for `uid`'s updates. `ready` settles when updates published from now on (in any
   * process) are sure to arrive; it never rejects (Redis trouble means no live updates, not an error).
   */
  subscribe(uid: string, listener: (update: KycUpdate) => void): { unsubscribe: () => void; ready: Promise<void> } {
    this.#listen();
    this.#local.on(uid, listener);
    return { unsubscribe: () => this.#local.off(uid, listener), ready: this.#subscribed };
  }

  close(): void {
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
  }

  /** Subscribes to Redis on the first open page, not at start-up: a subscribed connection can run nothing else, so it is a second one. */
  #listen(): void {
    if (!this.#publisher || this.#subscriber) return;
    const subscriber = this.#publisher.duplicate();
    this.#subscriber = subscriber;
    subscriber.on('error', () => undefined);
    subscriber.on('message', (_channel: string, message: string) => {
      try {
        this.#emit(JSON.parse(message) as KycUpdate);
      } catch {
        // Not ours; ignore.
      }
    });
    this.#subscribed = subscriber.subscribe(CHANNEL).then(
      () => undefined,
      () => undefined,
    );
  }

  #emit(update: KycUpdate): void {
    this.#local.emit(update.uid, update);
  }
}
