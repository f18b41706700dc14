import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../lib/errors';
import { createKeyring, generateEncryptionKey, KeyringError } from '../lib/tokens';

const AAD = 'user-1';

describe('token encryption keyring', () => {
  test('a sealed envelope opens with the same key and user, and hides the plaintext', () => {
    const keyring = createKeyring(generateEncryptionKey());
    const envelope = keyring.encrypt('access-token-secret', AAD);
    expect(envelope).not.toContain('access-token-secret');
    expect(envelope.split('.')).toHaveLength(5);
    expect(keyring.decrypt(envelope, AAD)).toBe('access-token-secret');
  });

  test('every envelope gets a fresh random IV, so equal plaintexts do not look equal', () => {
    const keyring = createKeyring(generateEncryptionKey());
    const a = keyring.encrypt('same', AAD);
    const b = keyring.encrypt('same', AAD);
    expect(a).not.toBe(b);
    expect(a.split('.')[2]).not.toBe(b.split('.')[2]);
  });

  test("an envelope bound to one user does not open as another user's (associated data)", () => {
    const keyring = createKeyring(generateEncryptionKey());
    const envelope = keyring.encrypt('token', 'alice');
    expect(() => keyring.decrypt(envelope, 'mallory')).toThrow(KeyringError);
  });

  test('a tampered envelope is refused (GCM tag)', () => {
    const keyring = createKeyring(generateEncryptionKey());
    const parts = keyring.encrypt('token', AAD).split('.');
    const body = Buffer.from(parts[4] as string, 'base64url');
    body[0] = (body[0] as number) ^ 1;
    parts[4] = body.toString('base64url');
    expect(() => keyring.decrypt(parts.join('.'), AAD)).toThrow(KeyringError);
  });

  test('key rotation: the first key encrypts, older keys still decrypt', () => {
    const oldKey = generateEncryptionKey();
    const newKey = generateEncryptionKey();
    const before = createKeyring([oldKey]);
    const written = before.encrypt('written-before-rotation', AAD);

    const after = createKeyring([newKey, oldKey]);
    expect(after.decrypt(written, AAD)).toBe('written-before-rotation');
    const rewritten = after.encrypt('written-after-rotation', AAD);
    expect(after.keyIdOf(rewritten)).toBe(after.currentKeyId);
    expect(after.keyIdOf(written)).toBe(before.currentKeyId);
    expect(after.currentKeyId).not.toBe(before.currentKeyId);
    // A process that does not know the new key yet cannot read it: deploy it as a second key first.
    expect(() => before.decrypt(rewritten, AAD)).toThrow(/not in encryptionKeys/);
  });

  test('keys may be given as base64, base64url, hex or bytes; key ids do not depend on the encoding', () => {
    const raw = randomBytes(32);
    const ids = [raw, raw.toString('base64'), raw.toString('base64url'), raw.toString('hex')].map((k) => createKeyring(k).currentKeyId);
    expect(new Set(ids).size).toBe(1);
    expect(createKeyring(raw).keyIds).toEqual([ids[0]]);
  });

  test.each([
    ['too short', randomBytes(16).toString('base64')],
    ['too long', randomBytes(48).toString('hex')],
    ['a password', 'correct horse battery staple'],
    ['16 bytes', randomBytes(16)],
  ])('a key that is %s is refused at configuration time', (_label, key) => {
    expect(() => createKeyring(key)).toThrow(expect.objectContaining({ code: ErrorCode.CONFIGURATION }));
  });

  test('an empty key list is refused', () => {
    expect(() => createKeyring([])).toThrow(expect.objectContaining({ code: ErrorCode.CONFIGURATION }));
  });
});
