/**
 * ioredis copies the command onto its errors (`err.command = { name, args }`), keeps earlier
 * failures in `err.previousErrors` and a cluster's `err.lastNodeError`, and Redis itself quotes
 * arguments in some replies (`unknown command 'x', with args beginning with: ...`). Our arguments
 * are sealed token records, lock tokens and app tokens, so no Redis error leaves `lib/redis/`
 * as it came: callers get a fresh `Error` with the name and a scrubbed, bounded message only.
 */
export function withoutCommandArgs(err: unknown): Error {
  const source = err instanceof Error ? err : new Error(String(err));
  const clean = new Error(scrubRedisMessage(source.message));
  clean.name = source.name;
  // The stack names our frames, not arguments; keep it for debugging, under the clean message.
  if (source.stack) clean.stack = `${clean.name}: ${clean.message}\n${source.stack.split('\n').slice(1).join('\n')}`;
  return clean;
}

const MAX_MESSAGE = 200;

/** Redis's error text without quoted arguments, and bounded. */
export function scrubRedisMessage(message: string): string {
  const text = message
    .replace(/,? with args beginning with:.*$/s, '')
    // Lua errors can quote a value they were given: keep the script position, drop the rest.
    .replace(/(user_script:\d+:).*$/s, '$1 (details removed)');
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
}
