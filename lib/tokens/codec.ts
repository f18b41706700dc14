import type { FractalTokenSet } from '../provider';
import type { Keyring } from './keyring';
import { KeyringError } from './keyring';

/** A token set as the vault keeps it: what the provider gave plus when we received it. */
export interface VaultRecord {
  tokenSet: FractalTokenSet;
  /** Epoch ms when this set was obtained (sign-in or refresh). */
  obtainedAt: number;
}

interface Plain {
  a: string;
  r?: string;
  e: number;
  s: string[];
  o: number;
}

/**
 * Binds each envelope to its user: an envelope copied into another user's key does not open.
 * The id never appears in the envelope itself.
 */
function associatedData(userId: string): string {
  return `passport-fractal-id/tokens/v1\0${userId}`;
}

export function sealRecord(keyring: Keyring, userId: string, record: VaultRecord): string {
  const { tokenSet } = record;
  const plain: Plain = { a: tokenSet.accessToken, e: tokenSet.expiresAt, s: [...tokenSet.scopes], o: record.obtainedAt };
  if (tokenSet.refreshToken !== undefined) plain.r = tokenSet.refreshToken;
  return keyring.encrypt(JSON.stringify(plain), associatedData(userId));
}

/** @throws KeyringError when the envelope does not open or does not hold a token set. */
export function openRecord(keyring: Keyring, userId: string, envelope: string): VaultRecord {
  const text = keyring.decrypt(envelope, associatedData(userId));
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
