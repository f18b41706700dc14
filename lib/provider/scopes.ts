import { ConfigurationError } from '../errors';

/**
 * Fractal ID's scope catalogue, from its integration docs (`oauth-2.0-scopes.md` for the scopes,
 * `kyc-levels.md` for the levels, add-ons and which add-on each level includes or excludes).
 * Each level and add-on has a status scope `verification.<name>:read` and a details scope
 * `verification.<name>.details:read`.
 */
export const KYC_LEVELS = ['uniqueness', 'basic', 'plus'] as const;
export const KYC_ADDONS = [
  'liveness',
  'selfie',
  'sow',
  'ssn',
  'telegram',
  'twitter',
  'uniq',
  'idos',
  'wallet',
  'wallet-ada',
  'wallet-algo',
  'wallet-btc',
  'wallet-eth',
  'wallet-kar',
  'wallet-sol',
  'wallet-substrate',
] as const;

export type KycLevel = (typeof KYC_LEVELS)[number];
export type KycAddon = (typeof KYC_ADDONS)[number];

/** Add-ons the docs mark `[DEPRECATED]` (`kyc-levels.md`, `oauth-2.0-scopes.md`): still accepted. */
export const DEPRECATED_KYC_ADDONS: readonly KycAddon[] = ['wallet'];

/**
 * How a level relates to an add-on in the "Add-on support matrix" of `kyc-levels.md` (newest
 * version): `included` (the level already performs it), `available` (it can be added) or
 * `unavailable` (the journey cannot combine them).
 */
export type AddonSupport = 'included' | 'available' | 'unavailable';

/**
 * The matrix's exceptions; every other documented pair is `available`. `uniq` is listed as an
 * add-on and a scope but has no row in the matrix: it is treated as available everywhere.
 */
const ADDON_SUPPORT_EXCEPTIONS: Partial<Record<KycAddon, Partial<Record<KycLevel, AddonSupport>>>> = {
  liveness: { uniqueness: 'included' },
  selfie: { uniqueness: 'unavailable' },
};

/** The `kyc-levels.md` support matrix for one level and add-on. */
export function addonSupport(level: KycLevel, addon: KycAddon): AddonSupport {
  return ADDON_SUPPORT_EXCEPTIONS[addon]?.[level] ?? 'available';
}

export const UID_SCOPE = 'uid:read';
export const CONTACT_SCOPE = 'contact:read';
/** Client-credentials only; never part of a user authorization request. */
export const CLIENT_STATS_SCOPE = 'client.stats:read';
/** The scope Fractal ID grants when none is requested. */
export const DEFAULT_SCOPES: readonly string[] = [UID_SCOPE];

const LEVEL_SET = new Set<string>(KYC_LEVELS);
const ADDON_SET = new Set<string>(KYC_ADDONS);
const VERIFICATION_SCOPE = /^verification\.([a-z0-9-]+)(\.details)?:read$/;

export function statusScope(name: KycLevel | KycAddon): string {
  return `verification.${name}:read`;
}

export function detailsScope(name: KycLevel | KycAddon): string {
  return `verification.${name}.details:read`;
}

export interface ParsedScope {
  kind: 'uid' | 'contact' | 'client' | 'level' | 'addon' | 'unknown';
  /** Level or add-on name for verification scopes. */
  name?: string;
  details?: boolean;
}

/** Classifies one scope string against the documented catalogue. */
export function parseScope(scope: string): ParsedScope {
  if (scope === UID_SCOPE) return { kind: 'uid' };
  if (scope === CONTACT_SCOPE) return { kind: 'contact' };
  if (scope === CLIENT_STATS_SCOPE) return { kind: 'client' };
  const match = VERIFICATION_SCOPE.exec(scope);
  if (match) {
    const name = match[1] as string;
    const details = match[2] !== undefined;
    if (LEVEL_SET.has(name)) return { kind: 'level', name, details };
    if (ADDON_SET.has(name)) return { kind: 'addon', name, details };
  }
  return { kind: 'unknown' };
}

export interface KycScopesOptions {
  /** Add-ons such as `liveness` or `wallet-eth`. They need at least one level. */
  addons?: readonly KycAddon[];
  /**
   * Also request the details scopes. The status scope is always requested too, because only a
   * status scope asks the user to go through the level (provider docs, "Scopes").
   */
  details?: boolean;
  /** Also request `contact:read` (email or phone). */
  contact?: boolean;
  /** Request `uid:read` (default true; Fractal ID grants it by default anyway). */
  uid?: boolean;
}

/**
 * Builds a user authorization scope list from KYC levels and add-ons.
 *
 * @example kycScopes('plus', { addons: ['wallet-eth', 'liveness'], details: true })
 * @throws ConfigurationError for unknown names, add-ons without a level (the provider warns that
 *   such a journey is broken), or an add-on that none of the levels supports (`kyc-levels.md`).
 */
export function kycScopes(levels: KycLevel | readonly KycLevel[], options: KycScopesOptions = {}): string[] {
  const levelList: readonly string[] = typeof levels === 'string' ? [levels] : levels;
  const addons: readonly string[] = options.addons ?? [];
  for (const level of levelList) {
    if (!LEVEL_SET.has(level)) {
      throw new ConfigurationError(`Unknown KYC level "${String(level)}"; expected one of: ${KYC_LEVELS.join(', ')}`);
    }
  }
  for (const addon of addons) {
    if (!ADDON_SET.has(addon)) {
      throw new ConfigurationError(`Unknown KYC add-on "${String(addon)}"; expected one of: ${KYC_ADDONS.join(', ')}`);
    }
  }
  if (levelList.length === 0 && addons.length > 0) {
    throw new ConfigurationError(`KYC add-ons need a level: pass at least one of ${KYC_LEVELS.join(', ')}`);
  }
  checkCombination(levelList as readonly KycLevel[], addons as readonly KycAddon[]);
  const scopes: string[] = [];
  if (options.uid !== false) scopes.push(UID_SCOPE);
  if (options.contact) scopes.push(CONTACT_SCOPE);
  for (const name of [...levelList, ...addons] as (KycLevel | KycAddon)[]) {
    scopes.push(statusScope(name));
    if (options.details) scopes.push(detailsScope(name));
  }
  return unique(scopes);
}

/** Splits a space-separated scope string (RFC 6749 section 3.3) or copies an array; drops duplicates. */
export function normalizeScopes(scope: string | readonly string[] | undefined): string[] {
  if (scope === undefined) return [];
  const parts = typeof scope === 'string' ? scope.split(' ') : scope;
  return unique(parts.map((s) => s.trim()).filter((s) => s.length > 0));
}

export interface ValidateScopesOptions {
  /** Accept scopes that are not in the documented catalogue (new provider scopes). Default false. */
  allowUnknown?: boolean;
}

/**
 * Checks a user authorization scope list: every scope known (unless allowed), no client-only
 * scope, no add-on without a level, and no add-on that none of the requested levels supports
 * (`kyc-levels.md`, add-on support matrix).
 *
 * @throws ConfigurationError saying what to fix.
 */
export function validateUserScopes(scopes: readonly string[], options: ValidateScopesOptions = {}): void {
  const levels: string[] = [];
  const addons: string[] = [];
  for (const scope of scopes) {
    if (!/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope)) {
      // RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
      throw new ConfigurationError(`Scope ${JSON.stringify(scope)} has characters RFC 6749 section 3.3 does not allow`);
    }
    const parsed = parseScope(scope);
    if (parsed.kind === 'client') {
      throw new ConfigurationError(`"${scope}" is a client-credentials scope; use FractalClient for statistics, not user sign-in`);
    }
    if (parsed.kind === 'unknown' && !options.allowUnknown) {
      throw new ConfigurationError(
        `Unknown Fractal ID scope "${scope}". Build scopes with kycScopes(), or set allowUnknownScopes: true if the provider added it`,
      );
    }
    if (parsed.kind === 'level' && parsed.name) levels.push(parsed.name);
    if (parsed.kind === 'addon' && parsed.name) addons.push(parsed.name);
  }
  if (addons.length > 0 && levels.length === 0) {
    throw new ConfigurationError(
      `KYC add-ons (${unique(addons).join(', ')}) were requested without a KYC level; Fractal ID does not support that journey. Add one of: ${KYC_LEVELS.map((l) => statusScope(l)).join(', ')}`,
    );
  }
  checkCombination(unique(levels) as KycLevel[], unique(addons) as KycAddon[]);
}

export interface ScopeDiff {
  /** Requested but not granted. */
  denied: string[];
  /** Granted but not requested (provider defaults). */
  added: string[];
}

/** Compares the requested scopes with the granted ones of a token response. */
export function diffScopes(requested: readonly string[], granted: readonly string[]): ScopeDiff {
  const grantedSet = new Set(granted);
  const requestedSet = new Set(requested);
  return {
    denied: requested.filter((s) => !grantedSet.has(s)),
    added: granted.filter((s) => !requestedSet.has(s)),
  };
}

/** Scopes of `required` missing from `granted`. */
export function missingScopes(required: readonly string[], granted: readonly string[]): string[] {
  const grantedSet = new Set(granted);
  return required.filter((s) => !grantedSet.has(s));
}

/**
 * An add-on extends the journey of a level; when one is requested with several levels, one level
 * that makes it available (or includes it) is enough. An add-on that every requested level
 * excludes is a journey the provider cannot run.
 */
function checkCombination(levels: readonly KycLevel[], addons: readonly KycAddon[]): void {
  if (levels.length === 0) return;
  for (const addon of addons) {
    if (levels.some((level) => addonSupport(level, addon) !== 'unavailable')) continue;
    const supported = KYC_LEVELS.filter((level) => addonSupport(level, addon) !== 'unavailable');
    throw new ConfigurationError(
      `KYC add-on "${addon}" is not available with level ${levels.map((l) => `"${l}"`).join(' or ')} (kyc-levels.md, add-on support matrix); request it with one of: ${supported.join(', ')}`,
    );
  }
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
