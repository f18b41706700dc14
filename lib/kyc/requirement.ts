import { ConfigurationError } from '../errors';
import { KYC_ADDONS, KYC_LEVELS, kycScopes, type KycAddon, type KycLevel } from '../provider';

/**
 * What a route demands: one KYC level, optionally with add-ons. Written as the provider writes
 * combined levels (`'basic+liveness'`, see `user-integration/user-information-retrieval.md`) or
 * as a list (`['basic', 'liveness']`).
 */
export type KycRequirementInput = KycLevel | `${KycLevel}+${string}` | readonly (KycLevel | KycAddon)[];

/** A validated requirement (build it once with {@link parseKycRequirement}, reuse it per request). */
export interface KycRequirement {
  readonly level: KycLevel;
  readonly addons: readonly KycAddon[];
  /** The level first, then the add-ons: each must be covered by an approved case. */
  readonly items: readonly (KycLevel | KycAddon)[];
  /** `level+addon+...`, the provider's own spelling; also the requirement's stable name. */
  readonly name: string;
  /** The status scopes a grant needs so that `/v2/users/me` shows these cases (`kycScopes`). */
  readonly scopes: readonly string[];
}

const LEVELS = new Set<string>(KYC_LEVELS);
const ADDONS = new Set<string>(KYC_ADDONS);
const PARSED = Symbol('kyc-requirement');

/**
 * Validates a requirement: exactly one known level, known add-ons, no repeats.
 *
 * @example parseKycRequirement('basic+liveness') // { level: 'basic', addons: ['liveness'], ... }
 * @throws ConfigurationError (`configuration_error`) naming what is wrong and what is allowed.
 */
export function parseKycRequirement(input: KycRequirementInput | KycRequirement | string | readonly string[]): KycRequirement {
  if (isParsed(input)) return input;
  const parts: unknown[] = typeof input === 'string' ? input.split('+') : Array.isArray(input) ? [...input] : [];
  if (parts.length === 0) {
    throw new ConfigurationError(`A KYC requirement is a level with optional add-ons, such as 'basic' or 'basic+liveness'; got ${describe(input)}`);
  }
  let level: KycLevel | undefined;
  const addons: KycAddon[] = [];
  for (const raw of parts) {
    const part = typeof raw === 'string' ? raw.trim() : raw;
    if (typeof part !== 'string' || part === '') {
      throw new ConfigurationError(`A KYC requirement has an empty or non-text part (${describe(input)}); write it like 'basic+liveness'`);
    }
    if (LEVELS.has(part)) {
      if (level !== undefined) {
        throw new ConfigurationError(`A KYC requirement names one level; ${describe(input)} names both "${level}" and "${part}"`);
      }
      level = part as KycLevel;
    } else if (ADDONS.has(part)) {
      if (addons.includes(part as KycAddon)) throw new ConfigurationError(`The KYC add-on "${part}" is named twice in ${describe(input)}`);
      addons.push(part as KycAddon);
    } else {
      throw new ConfigurationError(
        `Unknown KYC level or add-on "${part}" in ${describe(input)}; levels: ${KYC_LEVELS.join(', ')}; add-ons: ${KYC_ADDONS.join(', ')}`,
      );
    }
  }
  if (level === undefined) {
    // Add-on scopes without a level scope are unsupported by the provider (oauth-2.0-scopes.md, "Add-on scopes").
    throw new ConfigurationError(`A KYC requirement needs a level (${KYC_LEVELS.join(', ')}); ${describe(input)} has only add-ons`);
  }
  // kycScopes applies the scope catalogue's own rules, so an impossible combination fails here too.
  const scopes = kycScopes(level, { addons });
  const requirement: KycRequirement = { level, addons, items: [level, ...addons], name: [level, ...addons].join('+'), scopes };
  Object.defineProperty(requirement, PARSED, { value: true });
  return Object.freeze(requirement);
}

function isParsed(input: unknown): input is KycRequirement {
  return typeof input === 'object' && input !== null && (input as Record<symbol, unknown>)[PARSED] === true;
}

function describe(input: unknown): string {
  try {
    return JSON.stringify(input) ?? String(input);
  } catch {
    return String(input);
  }
}
