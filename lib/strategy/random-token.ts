import { randomFillSync } from 'node:crypto';

const TOKEN_BYTES = 32;
/** 64 tokens' worth: one CSPRNG call per 64 values instead of one per value. */
const pool = Buffer.alloc(TOKEN_BYTES * 64);
let offset = pool.length;

/**
 * 32 bytes from the CSPRNG as base64url (43 characters): the sign-in state handle and the PKCE
 * verifier (RFC 7636 section 4.1). Drawn from a pool refilled by `randomFillSync`, the way
 * `crypto.randomUUID()` caches its entropy: each `randomBytes(32)` costs ~2.3 µs of CPU whatever
 * its size, and a sign-in needs two. Every value is handed out once and its bytes are zeroed.
 */
export function randomToken(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const token = pool.toString('base64url', offset, offset + TOKEN_BYTES);
  pool.fill(0, offset, offset + TOKEN_BYTES);
  offset += TOKEN_BYTES;
  return token;
}
