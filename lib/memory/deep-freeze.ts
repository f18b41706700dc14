/**
 * Freezes `value` and everything reachable from it, in place. For values one process caches and
 * hands to many requests (KYC decisions, cached KYC entries): none may change them for the others.
 */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}
