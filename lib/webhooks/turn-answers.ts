/**
 * Answers that settle together, in the turn of the event loop after the one that asked
 * (`setImmediate`: after the I/O callbacks of the turn). `MemoryWebhookStore` decides each claim
 * at once, so claims stay atomic, and hands the answers out this way, so that the deliveries that
 * arrived together are answered together, as a `RedisWebhookStore`'s are when its script replies.
 *
 * Why: answered one by one, each response is written while the client that sent the next request
 * may be asleep, and every write pays for waking it. In bench scenario 5 (20 connections on
 * loopback, a 2-vCPU VM) the in-memory store's route spent 35.7 µs per delivery in `writev` against
 * 13.9 µs for the Redis store's batched answers; answering per turn took the route from 1.06-1.10 to
 * 0.88-0.89 of `express.json()`'s server CPU per delivery and 1.23-1.25 times the deliveries per
 * second (two paired A/B runs). Most of that is the load generator's wake-ups on the same machine;
 * across a network it is worth less. The cost is one turn of the event loop per delivery.
 *
 * @internal
 */
export class TurnAnswers {
  #waiting: (() => void)[] = [];
  #scheduled = false;
  readonly #answerAll = (): void => {
    this.#scheduled = false;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const answer of waiting) answer();
  };

  /** `value`, in the next turn of the event loop, with every other answer of this turn. */
  later<T>(value: T): Promise<T> {
    return new Promise<T>((resolve) => {
      this.#waiting.push(() => resolve(value));
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#answerAll);
      }
    });
  }
}
