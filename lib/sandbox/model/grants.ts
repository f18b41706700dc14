import { randomToken, sha256 } from '../crypto';

/** An authorization code (RFC 6749 section 4.1.2). Stored under the SHA-256 of the code. */
export interface CodeRecord {
  clientID: string;
  redirectUri: string;
  uid: string;
  scopes: readonly string[];
  codeChallenge?: string;
  codeChallengeMethod?: 'S256' | 'plain';
  /** Epoch ms on the sandbox clock. */
  expiresAt: number;
  used: boolean;
  revoked: boolean;
  /** Shared by every token descending from this code, so a replayed code can revoke them all. */
  family: string;
}

/**
 * One issued access token with its refresh token, like a Doorkeeper `oauth_access_tokens` row.
 * Only hashes are kept.
 */
export interface TokenRecord {
  family: string;
  clientID: string;
  /** Absent for client-credentials tokens. */
  uid?: string;
  scopes: readonly string[];
  accessHash: string;
  refreshHash?: string;
  /** Epoch ms on the sandbox clock. */
  createdAt: number;
  expiresAt: number;
  refreshExpiresAt?: number;
  revoked: boolean;
  /** Doorkeeper's `previous_refresh_token`: revoked when this token is first used. */
  previousRefreshHash?: string;
}

export interface IssueTokenInput {
  family: string;
  clientID: string;
  uid?: string;
  scopes: readonly string[];
  withRefreshToken: boolean;
  previousRefreshHash?: string;
}

export interface IssuedToken {
  record: TokenRecord;
  accessToken: string;
  refreshToken?: string;
}

/** Records long dead are dropped, so a long benchmark does not grow memory without bound. */
const PRUNE_AFTER_MS = 60 * 60 * 1000;
const PRUNE_EVERY = 1000;

/** In-memory codes and tokens. Every method takes `now` from the sandbox clock (clock skew). */
export class GrantLedger {
  readonly #codes = new Map<string, CodeRecord>();
  readonly #byAccess = new Map<string, TokenRecord>();
  readonly #byRefresh = new Map<string, TokenRecord>();
  #issued = 0;

  issueCode(input: Omit<CodeRecord, 'expiresAt' | 'used' | 'revoked' | 'family'>, now: number, ttlSeconds: number): string {
    const code = randomToken(32);
    const hash = sha256(code);
    this.#codes.set(hash, { ...input, expiresAt: now + ttlSeconds * 1000, used: false, revoked: false, family: hash });
    this.#maybePrune(now);
    return code;
  }

  code(code: string): CodeRecord | undefined {
    return this.#codes.get(sha256(code));
  }

  issueToken(input: IssueTokenInput, now: number, accessTTL: number, refreshTTL: number): IssuedToken {
    const accessToken = randomToken(32);
    const record: TokenRecord = {
      family: input.family,
      clientID: input.clientID,
      scopes: [...input.scopes],
      accessHash: sha256(accessToken),
      createdAt: now,
      expiresAt: now + accessTTL * 1000,
      revoked: false,
    };
    if (input.uid !== undefined) record.uid = input.uid;
    if (input.previousRefreshHash !== undefined) record.previousRefreshHash = input.previousRefreshHash;
    this.#byAccess.set(record.accessHash, record);
    let refreshToken: string | undefined;
    if (input.withRefreshToken) {
      refreshToken = randomToken(32);
      record.refreshHash = sha256(refreshToken);
      record.refreshExpiresAt = now + refreshTTL * 1000;
      this.#byRefresh.set(record.refreshHash, record);
    }
    this.#maybePrune(now);
    return refreshToken === undefined ? { record, accessToken } : { record, accessToken, refreshToken };
  }

  byAccessToken(token: string): TokenRecord | undefined {
    return this.#byAccess.get(sha256(token));
  }

  byRefreshToken(token: string): TokenRecord | undefined {
    return this.#byRefresh.get(sha256(token));
  }

  /**
   * Doorkeeper with `revoke_previous_refresh_token_on_access_token`: the pair a refresh replaced
   * stays valid until the new access token is first presented to the resource server.
   */
  revokePreviousOnUse(record: TokenRecord): void {
    if (record.previousRefreshHash === undefined) return;
    const previous = this.#byRefresh.get(record.previousRefreshHash);
    if (previous) previous.revoked = true;
    delete record.previousRefreshHash;
  }

  /** RFC 6749 section 4.1.2: a replayed code SHOULD revoke the tokens issued from it. */
  revokeFamily(family: string): void {
    for (const record of this.#byAccess.values()) {
      if (record.family === family) record.revoked = true;
    }
  }

  /** The user revoked the app (or every app): codes and tokens die at once. */
  revokeUser(uid: string, clientID?: string): void {
    const matches = (r: { uid?: string; clientID: string }) => r.uid === uid && (clientID === undefined || r.clientID === clientID);
    for (const code of this.#codes.values()) if (matches(code)) code.revoked = true;
    for (const record of this.#byAccess.values()) if (matches(record)) record.revoked = true;
  }

  /** Live refresh tokens per user and client (user grants only, not app tokens). */
  liveGrants(now: number): { uid: string; clientID: string; liveRefreshTokens: number }[] {
    const byKey = new Map<string, { uid: string; clientID: string; liveRefreshTokens: number }>();
    for (const record of this.#byRefresh.values()) {
      if (record.uid === undefined) continue;
      const key = `${record.clientID} ${record.uid}`;
      const entry = byKey.get(key) ?? { uid: record.uid, clientID: record.clientID, liveRefreshTokens: 0 };
      byKey.set(key, entry);
      if (!record.revoked && (record.refreshExpiresAt === undefined || now < record.refreshExpiresAt)) entry.liveRefreshTokens += 1;
    }
    return [...byKey.values()];
  }

  /**
   * The user's access tokens expire now; their refresh tokens still work. The client's next
   * resource call gets 401 `invalid_token`, as after two hours at the provider. Returns how many.
   */
  expireAccessTokens(uid: string, now: number, clientID?: string): number {
    let expired = 0;
    for (const record of this.#byAccess.values()) {
      if (record.uid !== uid || (clientID !== undefined && record.clientID !== clientID) || record.revoked || record.expiresAt <= now) continue;
      record.expiresAt = now;
      expired++;
    }
    return expired;
  }

  /** Forgets every code and token (sandbox reset). */
  clear(): void {
    this.#codes.clear();
    this.#byAccess.clear();
    this.#byRefresh.clear();
  }

  #maybePrune(now: number): void {
    this.#issued += 1;
    if (this.#issued % PRUNE_EVERY !== 0) return;
    for (const [hash, code] of this.#codes) {
      if (now > code.expiresAt + PRUNE_AFTER_MS) this.#codes.delete(hash);
    }
    for (const [hash, record] of this.#byAccess) {
      const end = Math.max(record.expiresAt, record.refreshExpiresAt ?? 0);
      if (now > end + PRUNE_AFTER_MS) {
        this.#byAccess.delete(hash);
        if (record.refreshHash !== undefined) this.#byRefresh.delete(record.refreshHash);
      }
    }
  }
}
