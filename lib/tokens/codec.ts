import type { FractalTokenSet } from '../provider';
import type { Keyring } from './keyring';
import { KeyringError } from './keyring';

/** A token set as the vault keeps it: what the provider gave plus when we received it. */
export interface VaultRecord {
  tokenSet: FractalTokenSet;
  /** Epoch ms when this set was obtained (sign-in or refresh). */
  obtainedAt: number;
}

/** What a sealed secret belongs to; none of it appears in the envelope itself. */
export interface SealBinding {
  /** What the secret is: `user-tokens` (the vault) or `app-token` (the back-office client's cache). */
  purpose: 'user-tokens' | 'app-token';
  /** The app (OAuth client ID) it was issued to; `''` where the name already commits to it. */
  clientID: string;
  /** The record's name in its store: the user id, or the app token's cache key. */
  name: string;
}

interface Plain {
  a: string;
  r?: string;
  e: number;
  s: string[];
  o: number;
}

/** Format of the associated data; bump it when what is bound changes. */
const FORMAT_VERSION = 2;

/**
 * AES-GCM associated data (NIST SP 800-38D section 5.2.1.1): the envelope opens only with the same
 * format version, purpose, app, encryption key id and record name, so a record copied from
 * another app, another key's envelope header or another user's key does not open. A JSON array,
 * so that no choice of names can make two bindings serialise alike.
 */
function associatedData(binding: SealBinding, keyId: string): string {
  return JSON.stringify(['passport-fractal-id', FORMAT_VERSION, binding.purpose, binding.clientID, keyId, binding.name]);
}

/** Format 1 (before 0.x, see SECURITY.md "Vault record binding") bound only the user id. */
function legacyAssociatedData(userId: string): string {
  return `passport-fractal-id/tokens/v1\0${userId}`;
}

/** Encrypts `plaintext` bound to `binding` and to the keyring's current key. */
export function seal(keyring: Keyring, binding: SealBinding, plaintext: string): string {
  return keyring.encrypt(plaintext, associatedData(binding, keyring.currentKeyId));
}

/** @throws KeyringError when the envelope does not open under this binding. */
export function unseal(keyring: Keyring, binding: SealBinding, envelope: string): string {
  const keyId = keyring.keyIdOf(envelope);
  if (keyId === undefined) throw new KeyringError('Not a token envelope of this library');
  return keyring.decrypt(envelope, associatedData(binding, keyId));
}

export function sealRecord(keyring: Keyring, binding: { clientID: string; userId: string }, record: VaultRecord): string {
  const { tokenSet } = record;
  const plain: Plain = { a: tokenSet.accessToken, e: tokenSet.expiresAt, s: [...tokenSet.scopes], o: record.obtainedAt };
  if (tokenSet.refreshToken !== undefined) plain.r = tokenSet.refreshToken;
  return seal(keyring, userBinding(binding), JSON.stringify(plain));
}

/**
 * Opens a vault record. `legacy` is true when it is in format 1 (bound to the user id only): the
 * caller should rewrite it in the current format. `acceptLegacy: false` refuses format 1.
 *
 * @throws KeyringError when the envelope does not open or does not hold a token set.
 */
export function openRecord(
  keyring: Keyring,
  binding: { clientID: string; userId: string },
  envelope: string,
  acceptLegacy = true,
): VaultRecord & { legacy: boolean } {
  let text: string;
  let legacy = false;
  try {
    text = unseal(keyring, userBinding(binding), envelope);
  } catch (err) {
    if (!acceptLegacy) throw err;
    // A format-1 record written before the upgrade; when this fails too, its KeyringError stands.
    text = keyring.decrypt(envelope, legacyAssociatedData(binding.userId));
    legacy = true;
  }
  return { ...parseRecord(text), legacy };
}

function userBinding(binding: { clientID: string; userId: string }): SealBinding {
  return { purpose: 'user-tokens', clientID: binding.clientID, name: binding.userId };
}

function parseRecord(text: string): VaultRecord {
  let plain: Partial<Plain>;
  try {
    plain = JSON.parse(text) as Partial<Plain>;
  } catch {
    throw new KeyringError('Token envelope does not hold JSON');
  }
  if (
    typeof plain.a !== 'string' ||
    typeof plain.e !== 'number' ||
    typeof plain.o !== 'number' ||
    !Array.isArray(plain.s) ||
    (plain.r !== undefined && typeof plain.r !== 'string')
  ) {
    throw new KeyringError('Token envelope does not hold a token set');
  }
  const tokenSet: FractalTokenSet = { accessToken: plain.a, tokenType: 'bearer', expiresAt: plain.e, scopes: plain.s.map(String) };
  if (plain.r !== undefined) tokenSet.refreshToken = plain.r;
  return { tokenSet, obtainedAt: plain.o };
}
