/**
 * Done marks waiting to ride along with a later Redis command (see `RedisWebhookStore.complete`):
 * a delivery then costs one round trip (its claim, which also carries earlier deliveries' marks)
 * instead of two. Marks nobody takes within `delayMs` are left to the `flush` callback, which
 * sends all those waiting together.
 *
 * @internal
 */
export class DoneMarkQueue {
  readonly #pending: PendingMark[] = [];
  readonly #delayMs: number;
  readonly #flush: () => void;
  #timer: NodeJS.Timeout | undefined;

  /** `flush` is called when marks waited `delayMs` without a ride; it should `take()` and send them. */
  constructor(delayMs: number, flush: () => void) {
    this.#delayMs = delayMs;
    this.#flush = flush;
  }

  get size(): number {
    return this.#pending.length;
  }

  /** Queues the mark of `key`; resolves once a command carrying it succeeded. */
  add(key: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ key, failures: 0, resolve, reject });
      this.#schedule();
    });
  }

  /** Up to MARKS_PER_SCRIPT waiting marks, for the command about to be sent. */
  take(): PendingMark[] {
    if (this.#pending.length === 0) return [];
    const marks = this.#pending.splice(0, MARKS_PER_SCRIPT);
    if (this.#pending.length === 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    return marks;
  }

  /**
   * Settles the marks that rode on `sent`: done when it succeeded. When it failed they may or may
   * not have landed (marking twice is harmless), so each is queued once more, then given up on
   * (its `add` rejects with the error).
   */
  settle<T>(marks: readonly PendingMark[], sent: Promise<T>): Promise<T> {
    if (marks.length === 0) return sent;
    return sent.then(
      (value) => {
        for (const mark of marks) mark.resolve();
        return value;
      },
      (err: unknown) => {
        for (const mark of marks) {
          if (++mark.failures >= 2) mark.reject(err);
          else this.#pending.push(mark);
        }
        if (this.#pending.length > 0) this.#schedule();
        throw err;
      },
    );
  }

  #schedule(): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, this.#delayMs);
  }
}

/** Done marks per command at most, so one script never grows without bound. */
export const MARKS_PER_SCRIPT = 64;

/** A done mark not yet in Redis, and the `add` call waiting for it. */
export interface PendingMark {
  readonly key: string;
  /** Sends that failed: a mark is tried twice. */
  failures: number;
  resolve(): void;
  reject(err: unknown): void;
}
