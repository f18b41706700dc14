import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ConfigurationError } from '../errors';

/** A 32-byte AES-256 key: a Buffer/Uint8Array, or a string of 64 hex digits or base64(url) of 32 bytes. */
export type EncryptionKey = string | Uint8Array;

/**
 * Authenticated encryption of token records with rotating keys. The first key encrypts; every key
 * decrypts. To rotate without logging anyone out: deploy the new key as the SECOND key everywhere,
 * then make it the first, then drop the old one once every record was rewritten (each refresh
 * rewrites) or has expired.
 */
export interface Keyring {
  /** Id of the key new envelopes are written with (derived from the key, not secret). */
  readonly currentKeyId: string;
  /** Ids of every key that decrypts, current first. */
  readonly keyIds: readonly string[];
  /** `associatedData` is bound to the ciphertext: an envelope only opens with the same value. */
  encrypt(plaintext: string, associatedData: string): string;
  /** @throws KeyringError when no key opens the envelope (unknown key, tampering, other user). */
  decrypt(envelope: string, associatedData: string): string;
  /** Key id an envelope was written with, or undefined when it is not an envelope of ours. */
  keyIdOf(envelope: string): string | undefined;
}

/** An envelope could not be opened. Never contains the plaintext or a key. */
export class KeyringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyringError';
  }
}

const VERSION = 'f1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Builds a keyring for AES-256-GCM (NIST SP 800-38D) with a random 96-bit IV per envelope.
 * Envelope: `f1.<keyId>.<iv>.<tag>.<ciphertext>`, base64url parts.
 *
 * **Security:** keys must come from a CSPRNG (`openssl rand -base64 32`), never from a password.
 *
 * @throws ConfigurationError for an empty list or a key that is not exactly 32 bytes.
 */
export function createKeyring(keys: EncryptionKey | readonly EncryptionKey[]): Keyring {
  const list: readonly EncryptionKey[] = typeof keys === 'string' || keys instanceof Uint8Array ? [keys] : keys;
  if (!Array.isArray(list) || list.length === 0) {
    throw new ConfigurationError('encryptionKeys needs at least one 32-byte key; generate one with `openssl rand -base64 32`');
  }
  const byId = new Map<string, Buffer>();
  const ids: string[] = [];
  list.forEach((input, index) => {
    const key = parseKey(input, index);
    const id = keyId(key);
    if (!byId.has(id)) {
      byId.set(id, key);
      ids.push(id);
    }
  });
  const currentKeyId = ids[0] as string;
  const currentKey = byId.get(currentKeyId) as Buffer;

  return {
    currentKeyId,
    keyIds: ids,
    encrypt(plaintext, associatedData) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(associatedData, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [VERSION, currentKeyId, b64(iv), b64(tag), b64(body)].join('.');
    },
    decrypt(envelope, associatedData) {
      const parts = envelope.split('.');
      if (parts.length !== 5 || parts[0] !== VERSION) throw new KeyringError('Not a token envelope of this library');
      const [, id, ivText, tagText, bodyText] = parts as [string, string, string, string, string];
      const key = byId.get(id);
      if (!key) {
        throw new KeyringError(`Token envelope was written with key ${id}, which is not in encryptionKeys (keys: ${ids.join(', ')})`);
      }
      const iv = Buffer.from(ivText, 'base64url');
      const tag = Buffer.from(tagText, 'base64url');
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new KeyringError('Token envelope is malformed');
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(associatedData, 'utf8'));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(Buffer.from(bodyText, 'base64url')), decipher.final()]).toString('utf8');
      } catch {
        throw new KeyringError('Token envelope failed authentication (tampered, or bound to another user)');
      }
    },
    keyIdOf(envelope) {
      const parts = envelope.split('.');
      return parts.length === 5 && parts[0] === VERSION ? parts[1] : undefined;
    },
  };
}

/** Generates a fresh key, base64-encoded, for configuration files and tests. */
export function generateEncryptionKey(): string {
  return randomBytes(32).toString('base64');
}

function parseKey(input: EncryptionKey, index: number): Buffer {
  const where = `encryptionKeys[${index}]`;
  if (input instanceof Uint8Array) {
    if (input.length !== 32) throw new ConfigurationError(`${where} must be 32 bytes, got ${input.length}`);
    return Buffer.from(input);
  }
  if (typeof input !== 'string') throw new ConfigurationError(`${where} must be a string or a Buffer`);
  const text = input.trim();
  if (/^[0-9a-f]{64}$/i.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const key = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
    if (key.length === 32) return key;
  }
  throw new ConfigurationError(
    `${where} must be 32 random bytes as 64 hex digits or base64 (44 characters); generate one with \`openssl rand -base64 32\``,
  );
}

/** A short public id: lets an envelope name its key without revealing anything usable about it. */
function keyId(key: Buffer): string {
  return createHash('sha256').update('passport-fractal-id key id\0').update(key).digest('base64url').slice(0, 8);
}

function b64(value: Buffer): string {
  return value.toString('base64url');
}
