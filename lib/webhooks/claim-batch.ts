import { redisScript, type RedisScript } from '../redis';
import type { DoneMarkQueue, PendingMark } from './done-marks';

/**
 * The claims of concurrent deliveries, sent to Redis together: one script for every claim made in
 * the same turn of the event loop, carrying the done marks waiting too (see `DoneMarkQueue`). A
 * command's socket write (and the wake-up of Redis it causes) was the largest single cost of a
 * delivery in bench scenario 5 (`--cpu-prof`), so under load deliveries share one: 0.1 commands
 * per delivery at 20 connections instead of 2.
 * Each claim stays atomic (a script runs alone); a failed script fails every claim in it, each
 * answered 503 and retried by the provider. On a Cluster a script's keys must share a slot, so the
 * store keeps one batch per hash tag (`clusterSlots` in redis-store.ts).
 *
 * @internal
 */

/**
 * KEYS: the M done marks, then per claim its delivery key and its ordering key (the delivery key
 * again for an unordered event: not read). ARGV: [1] processingTtlMs, [2] the done value, [3]
 * orderingTtlMs, [4] doneTtlMs, [5] M, then per claim its `p:<token>` and its event time in ms
 * ('' when unordered). Per claim: 1 claimed (with the newest time kept, '' when unordered), 2 done,
 * 0 claimed by another. Finding its own token counts as claimed: ioredis re-sends a command whose
 * reply a dropped connection lost, and a claim re-sent after it did run would otherwise find
 * itself and report the delivery as someone else's (409 for every copy until the claim expires).
 * Marks come first: a copy of a delivery whose mark is in the same script reads as done.
 * A new delivery (the usual case) is claimed by one `SET NX`; only a key already held is read.
 * Likewise the first event of a user and level records its time with one `SET NX GET` (Redis >= 7.0
 * allows NX with GET; an older server answers an error, and the script then reads the key first).
 * Redis runs the script's calls on its own CPU, which the app shares on a small machine.
 */
export const CLAIM_BATCH: RedisScript = redisScript(`
local m = tonumber(ARGV[5])
for i = 1, m do redis.call('SET', KEYS[i], ARGV[2], 'PX', ARGV[4]) end
local out = {}
for i = 1, (#KEYS - m) / 2 do
  local key = KEYS[m + 2 * i - 1]
  local token = ARGV[4 + 2 * i]
  local time = ARGV[5 + 2 * i]
  local current = false
  if not redis.call('SET', key, token, 'NX', 'PX', ARGV[1]) then current = redis.call('GET', key) end
  if current and current ~= token then
    if current == ARGV[2] then out[#out + 1] = 2 else out[#out + 1] = 0 end
    out[#out + 1] = ''
  else
    out[#out + 1] = 1
    if time == '' then
      out[#out + 1] = ''
    else
      local newestKey = KEYS[m + 2 * i]
      local previous = redis.pcall('SET', newestKey, time, 'NX', 'GET', 'PX', ARGV[3])
      local stored = false
      if type(previous) == 'table' then previous = redis.call('GET', newestKey) else stored = not previous end
      local newest = tonumber(previous)
      if stored then
        out[#out + 1] = time
      elseif newest == nil or tonumber(time) > newest then
        redis.call('SET', newestKey, time, 'PX', ARGV[3])
        out[#out + 1] = time
      else
        redis.call('PEXPIRE', newestKey, ARGV[3])
        out[#out + 1] = tostring(newest)
      end
    end
  end
end
return out
`);

/** CLAIM_BATCH's first arguments, for `marks` done marks; each claim then adds its two. */
export function batchArgs(ttls: { processingTtlMs: number; orderingTtlMs: number; doneTtlMs: number }, done: string, marks: number): (string | number)[] {
  return [ttls.processingTtlMs, done, ttls.orderingTtlMs, ttls.doneTtlMs, marks];
}

/** What one claim in a batch learnt: its state (1 claimed, 2 done, 0 another's) and the newest time. */
export interface BatchedClaimReply {
  state: number;
  /** The newest event time kept for its user and level; undefined for unordered events. */
  newest: number | undefined;
}

interface QueuedClaim {
  key: string;
  orderingKey: string;
  value: string;
  time: string;
  resolve(reply: BatchedClaimReply): void;
  reject(err: unknown): void;
}

/** Claims per script at most, so one script never runs (and blocks Redis) for long. */
const CLAIMS_PER_SCRIPT = 64;
/**
 * With `groupCommit`: how long new claims wait for the script in flight to answer before they are
 * sent anyway. A round trip takes well under a millisecond, so this only matters when Redis is
 * slow or gone, and bounds what a claim can lose to waiting (its deadline starts when it is sent).
 */
const MAX_WAIT_MS = 5;

export class ClaimBatch {
  readonly #queue: QueuedClaim[] = [];
  readonly #marks: DoneMarkQueue;
  readonly #send: (keys: string[], args: (string | number)[]) => Promise<unknown>;
  readonly #ttls: { processingTtlMs: number; orderingTtlMs: number; doneTtlMs: number };
  readonly #done: string;
  readonly #groupCommit: boolean;
  #scheduled = false;
  /** Scripts sent and not answered yet. */
  #inFlight = 0;
  #waitTimer: NodeJS.Timeout | undefined;
  readonly #flushNow = (): void => this.#flush();

  /** `send` runs CLAIM_BATCH with these keys and args (under the store's deadline). */
  constructor(options: {
    marks: DoneMarkQueue;
    send: (keys: string[], args: (string | number)[]) => Promise<unknown>;
    ttls: { processingTtlMs: number; orderingTtlMs: number; doneTtlMs: number };
    done: string;
    /** See `claim`. */
    groupCommit: boolean;
  }) {
    this.#marks = options.marks;
    this.#send = options.send;
    this.#ttls = options.ttls;
    this.#done = options.done;
    this.#groupCommit = options.groupCommit;
  }

  /**
   * Claims `key` with `value`; with an ordering key and time, also keeps the newest time. Sent
   * with the other claims of this turn of the event loop (setImmediate: after the I/O callbacks of
   * the turn, so the deliveries that arrived together go together), even while an earlier script
   * is in flight. With `groupCommit`, new claims instead wait for the script in flight to answer
   * (at most MAX_WAIT_MS) and then go together: each round trip carries what arrived during the
   * previous one, fewer scripts for a longer wait. Not the default: in bench scenario 5 (20
   * connections, Redis on the same 2-vCPU VM) sending at once answered 1.01-1.08 times as many
   * deliveries per second in four paired A/B runs (A/A runs of one build: 0.96, 1.01), for 0.15
   * instead of 0.11 scripts per delivery and the same server CPU: waiting, the server sat idle.
   */
  claim(key: string, value: string, ordering?: { key: string; timeMs: number }): Promise<BatchedClaimReply> {
    return new Promise<BatchedClaimReply>((resolve, reject) => {
      this.#queue.push({ key, orderingKey: ordering?.key ?? key, value, time: ordering ? String(Math.trunc(ordering.timeMs)) : '', resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (this.#inFlight === 0 || !this.#groupCommit) setImmediate(this.#flushNow);
    else this.#waitTimer = setTimeout(this.#flushNow, MAX_WAIT_MS);
  }

  #flush(): void {
    this.#scheduled = false;
    clearTimeout(this.#waitTimer);
    this.#waitTimer = undefined;
    while (this.#queue.length > 0) this.#sendSome(this.#queue.splice(0, CLAIMS_PER_SCRIPT), this.#marks.take());
  }

  /** A script answered: claims waiting for it go now (in the next turn, with whatever else arrives). */
  #answered(): void {
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#waitTimer !== undefined) {
      clearTimeout(this.#waitTimer);
      this.#waitTimer = undefined;
      setImmediate(this.#flushNow);
    }
  }

  #sendSome(claims: QueuedClaim[], marks: readonly PendingMark[]): void {
    const keys: string[] = marks.map((mark) => mark.key);
    const args = batchArgs(this.#ttls, this.#done, marks.length);
    for (const claim of claims) {
      keys.push(claim.key, claim.orderingKey);
      args.push(claim.value, claim.time);
    }
    this.#inFlight++;
    this.#marks.settle(marks, this.#send(keys, args)).then(
      (reply) => {
        this.#answered();
        const flat = reply as unknown[];
        claims.forEach((claim, i) => {
          const newest = flat[2 * i + 1];
          claim.resolve({ state: Number(flat[2 * i]), newest: newest === '' || newest === undefined ? undefined : Number(newest) });
        });
      },
      (err: unknown) => {
        this.#answered();
        for (const claim of claims) claim.reject(err);
      },
    );
  }
}
