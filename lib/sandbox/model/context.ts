import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { ClientRegistry } from './client-registry';
import { SandboxError } from '../errors';
import { FaultInjector } from './faults';
import { GrantLedger } from './grants';
import type { SandboxCounts, SandboxOptions, SandboxResponseShape, SandboxTokenLifetimes } from '../types';
import { UserDirectory } from './user-directory';

/** Doorkeeper's default access token lifetime, which the provider docs confirm (2 hours). */
export const DEFAULT_ACCESS_TOKEN_TTL = 7200;
/** The provider docs are silent on refresh token lifetime; Doorkeeper's default is "never". */
export const DEFAULT_REFRESH_TOKEN_TTL = 30 * 24 * 3600;
/** Provider docs: "The code expires after 10 minutes". */
export const DEFAULT_CODE_TTL = 600;

export interface Lifetimes {
  accessToken: number;
  refreshToken: number;
  code: number;
}

/** Everything one sandbox instance holds in memory, shared by its three origins. */
export interface SandboxContext {
  readonly clients: ClientRegistry;
  readonly tokens: GrantLedger;
  readonly users: UserDirectory;
  readonly faults: FaultInjector;
  readonly events: EventEmitter;
  readonly counts: SandboxCounts;
  readonly lifetimes: Lifetimes;
  readonly clock: SandboxClock;
  /** Per-instance key of the consent form's HMAC, so hidden fields cannot be tampered with. */
  readonly formKey: Buffer;
  readonly personOnlyScopes: ReadonlySet<string>;
  readonly institutionOnlyScopes: ReadonlySet<string>;
  readonly autoApprove: boolean;
  readonly log: (line: string) => void;
  /** Shape of `/v2/users/me` answers; changeable while running. */
  responseShape: SandboxResponseShape;
}

export class SandboxClock {
  skewMs = 0;

  /** Epoch milliseconds as the sandbox sees them. */
  now(): number {
    return Date.now() + this.skewMs;
  }
}

export function createContext(options: SandboxOptions): SandboxContext {
  const clock = new SandboxClock();
  const events = new EventEmitter();
  const context: SandboxContext = {
    clients: new ClientRegistry(),
    tokens: new GrantLedger(),
    users: new UserDirectory(events, () => clock.now()),
    faults: new FaultInjector(),
    events,
    counts: emptyCounts(),
    lifetimes: {
      accessToken: checkLifetime('accessTokenTTL', options.accessTokenTTL ?? DEFAULT_ACCESS_TOKEN_TTL),
      refreshToken: checkLifetime('refreshTokenTTL', options.refreshTokenTTL ?? DEFAULT_REFRESH_TOKEN_TTL),
      code: checkLifetime('codeTTL', options.codeTTL ?? DEFAULT_CODE_TTL),
    },
    clock,
    formKey: randomBytes(32),
    personOnlyScopes: new Set(options.personOnlyScopes ?? []),
    institutionOnlyScopes: new Set(options.institutionOnlyScopes ?? []),
    autoApprove: options.autoApprove === true,
    log: options.logger ?? (() => undefined),
    responseShape: checkResponseShape(options.responseShape ?? 'full'),
  };
  for (const client of options.clients ?? []) context.clients.register(client);
  return context;
}

export function emptyCounts(): SandboxCounts {
  return { authorize: 0, token: { authorization_code: 0, refresh_token: 0, client_credentials: 0, failed: 0 }, userinfo: 0, stats: 0 };
}

export function resetCounts(counts: SandboxCounts): void {
  Object.assign(counts, emptyCounts());
}

export function copyCounts(counts: SandboxCounts): SandboxCounts {
  return { ...counts, token: { ...counts.token } };
}

export function setLifetimes(lifetimes: Lifetimes, input: SandboxTokenLifetimes): void {
  if (typeof input !== 'object' || input === null) throw new SandboxError('invalid_lifetimes', 'lifetimes must be an object');
  // Validate all before changing any, so a bad value leaves the sandbox as it was.
  const next = {
    accessToken: input.accessToken === undefined ? lifetimes.accessToken : checkLifetime('accessToken', input.accessToken),
    refreshToken: input.refreshToken === undefined ? lifetimes.refreshToken : checkLifetime('refreshToken', input.refreshToken),
    code: input.code === undefined ? lifetimes.code : checkLifetime('code', input.code),
  };
  Object.assign(lifetimes, next);
}

/** Seconds, fractions allowed (tests); 0 issues already-expired codes or tokens. */
function checkLifetime(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new SandboxError('invalid_lifetimes', `${name} must be a number of seconds >= 0`);
  }
  return value;
}

export function checkResponseShape(shape: unknown): SandboxResponseShape {
  if (shape !== 'full' && shape !== 'minimal') throw new SandboxError('invalid_response_shape', 'responseShape must be "full" or "minimal"');
  return shape;
}

export function checkClockSkew(ms: unknown): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new SandboxError('invalid_clock_skew', 'clock skew must be a finite number of milliseconds');
  return ms;
}
