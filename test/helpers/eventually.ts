/**
 * Polls until `check` passes, or fails with its last error after `timeoutMs`. For effects that
 * arrive asynchronously (a pub/sub notification, a reconnect, a late reply): the bound only turns
 * "never" into a failure, it is not a performance assertion.
 */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 20_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}
