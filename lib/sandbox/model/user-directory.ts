import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { KYC_ADDONS, KYC_LEVELS } from '../../provider';
import { SandboxError } from '../errors';
import { WALLET_CURRENCIES, guessWalletCurrency } from './wallet-currency';
import type {
  SandboxCaseStatus,
  SandboxCredential,
  SandboxEmailChangedEvent,
  SandboxUser,
  SandboxUserInput,
  SandboxUsers,
  SandboxVerificationCase,
  SandboxVerificationChangedEvent,
  SandboxVerificationUpdate,
  SandboxWallet,
  SandboxWalletInput,
} from '../types';

const VERIFICATION_NAMES = new Set<string>([...KYC_LEVELS, ...KYC_ADDONS]);
const STATUSES: readonly SandboxCaseStatus[] = ['pending', 'contacted', 'done'];
const CREDENTIALS: readonly SandboxCredential[] = ['pending', 'approved', 'rejected'];
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/**
 * The people and institutions the sandbox has seen, with their verification cases and wallets.
 * Reads return snapshots so that tests cannot change state behind the events' back.
 */
export class UserDirectory implements SandboxUsers {
  readonly #byUid = new Map<string, SandboxUser>();
  readonly #events: EventEmitter;
  readonly #now: () => number;

  constructor(events: EventEmitter, now: () => number) {
    this.#events = events;
    this.#now = now;
  }

  /** Forgets every user (sandbox reset); emails map to the same uids as before. */
  clear(): void {
    this.#byUid.clear();
  }

  get(uid: string): SandboxUser | undefined {
    const user = this.#byUid.get(uid);
    return user && snapshot(user);
  }

  findByEmail(email: string): SandboxUser | undefined {
    const user = this.#findRecord(email);
    return user && snapshot(user);
  }

  list(): SandboxUser[] {
    return [...this.#byUid.values()].map(snapshot);
  }

  ensure(input: SandboxUserInput): SandboxUser {
    return snapshot(this.ensureRecord(input));
  }

  /** @internal The live record, for the sandbox's own handlers. */
  ensureRecord(input: SandboxUserInput): SandboxUser {
    const email = checkEmail(input.email);
    let user = this.#findRecord(email);
    if (!user) {
      user = { uid: randomUUID(), email, userType: 'person', country: 'DE', phones: [], wallets: [], verificationCases: [] };
      this.#byUid.set(user.uid, user);
    }
    if (input.userType !== undefined) user.userType = checkUserType(input.userType);
    if (input.country !== undefined) user.country = checkCountry(input.country);
    return user;
  }

  /** @internal The live record, for the sandbox's own handlers. */
  record(uid: string): SandboxUser | undefined {
    return this.#byUid.get(uid);
  }

  /** @internal All live records, for statistics. */
  records(): Iterable<SandboxUser> {
    return this.#byUid.values();
  }

  /**
   * @internal Opens a pending case when the user starts a level's journey at consent; unlike
   * {@link setVerification} it emits nothing, because no webhook type exists for "started".
   */
  openCase(uid: string, level: string): void {
    const user = this.#require(uid);
    if (user.verificationCases.some((c) => c.level === level)) return;
    user.verificationCases.push(newCase(level, this.#isoNow()));
  }

  setVerification(uid: string, level: string, update: SandboxVerificationUpdate = {}): SandboxVerificationCase {
    const user = this.#require(uid);
    if (!VERIFICATION_NAMES.has(level)) {
      throw new SandboxError('invalid_level', `Unknown KYC level or add-on ${JSON.stringify(level)}`);
    }
    if (update.status !== undefined && !STATUSES.includes(update.status)) {
      throw new SandboxError('invalid_status', `status must be one of ${STATUSES.join(', ')}`);
    }
    if (update.credential !== undefined && !CREDENTIALS.includes(update.credential)) {
      throw new SandboxError('invalid_credential', `credential must be one of ${CREDENTIALS.join(', ')}`);
    }
    const now = this.#isoNow();
    let found = user.verificationCases.find((c) => c.level === level);
    if (!found) {
      found = newCase(level, now);
      user.verificationCases.push(found);
    }
    if (update.status !== undefined) found.status = update.status;
    if (update.credential !== undefined) found.credential = update.credential;
    found.journeyCompleted = update.journeyCompleted ?? (found.status !== 'pending' || found.credential !== 'pending');
    found.updatedAt = now;
    const event: SandboxVerificationChangedEvent = {
      user_id: uid,
      level,
      status: found.status,
      credential: found.credential,
      timestamp: now,
    };
    this.#events.emit('verification_changed', event);
    return { ...found };
  }

  setEmail(uid: string, email: string): SandboxUser {
    const user = this.#require(uid);
    const clean = checkEmail(email);
    const other = this.#findRecord(clean);
    if (other && other.uid !== uid) {
      throw new SandboxError('email_taken', `${clean} already belongs to another sandbox user`);
    }
    user.email = clean;
    const event: SandboxEmailChangedEvent = { user_id: uid, email: clean };
    this.#events.emit('email_changed', event);
    return snapshot(user);
  }

  setCountry(uid: string, country: string): SandboxUser {
    const user = this.#require(uid);
    user.country = checkCountry(country);
    return snapshot(user);
  }

  setPhones(uid: string, phones: string[]): SandboxUser {
    const user = this.#require(uid);
    for (const phone of phones) {
      if (!/^\+[1-9]\d{1,14}$/.test(phone)) throw new SandboxError('invalid_phone', `${JSON.stringify(phone)} is not an E.164 number`);
    }
    user.phones = [...phones];
    return snapshot(user);
  }

  addWallet(uid: string, input: SandboxWalletInput): SandboxWallet {
    const user = this.#require(uid);
    const address = typeof input.address === 'string' ? input.address.trim() : '';
    if (!/^[\x21-\x7e]{1,256}$/.test(address)) {
      throw new SandboxError('invalid_wallet', 'A wallet address is 1 to 256 printable ASCII characters');
    }
    if (input.currency !== undefined && !WALLET_CURRENCIES.includes(input.currency)) {
      throw new SandboxError('invalid_wallet', `currency must be one of ${WALLET_CURRENCIES.join(', ')}`);
    }
    let wallet = user.wallets.find((w) => w.address === address);
    if (!wallet) {
      wallet = { id: randomUUID(), address, currency: input.currency ?? guessWalletCurrency(address), verified: false };
      user.wallets.push(wallet);
    } else if (input.currency !== undefined) {
      wallet.currency = input.currency;
    }
    if (input.verified !== undefined) wallet.verified = input.verified;
    return { ...wallet };
  }

  #findRecord(email: string): SandboxUser | undefined {
    const wanted = email.trim().toLowerCase();
    for (const user of this.#byUid.values()) if (user.email.toLowerCase() === wanted) return user;
    return undefined;
  }

  #require(uid: string): SandboxUser {
    const user = this.#byUid.get(uid);
    if (!user) throw new SandboxError('unknown_user', `No sandbox user has uid ${JSON.stringify(uid)}`, 404);
    return user;
  }

  #isoNow(): string {
    return new Date(this.#now()).toISOString();
  }
}

function newCase(level: string, now: string): SandboxVerificationCase {
  return { id: randomUUID(), level, status: 'pending', credential: 'pending', journeyCompleted: false, updatedAt: now };
}

function snapshot(user: SandboxUser): SandboxUser {
  return {
    ...user,
    phones: [...user.phones],
    wallets: user.wallets.map((w) => ({ ...w })),
    verificationCases: user.verificationCases.map((c) => ({ ...c })),
  };
}

export function checkEmail(email: unknown): string {
  const clean = typeof email === 'string' ? email.trim() : '';
  if (!EMAIL.test(clean) || clean.length > 254) throw new SandboxError('invalid_email', 'Enter an email address such as alice@example.com');
  return clean;
}

function checkUserType(value: unknown): 'person' | 'institution' {
  if (value === 'person' || value === 'institution') return value;
  throw new SandboxError('invalid_user_type', 'userType must be "person" or "institution"');
}

function checkCountry(value: unknown): string {
  if (typeof value === 'string' && /^[A-Z]{2}$/.test(value)) return value;
  throw new SandboxError('invalid_country', 'country must be an ISO 3166-1 alpha-2 code such as DE');
}
