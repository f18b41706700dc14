import type { KycAddon, KycLevel } from '../provider';
import { parseKycRequirement, type KycRequirement, type KycRequirementInput } from './requirement';

/**
 * The answer to "is this user KYC-approved at this level?":
 * - `approved`: every item of the requirement has an approved, concluded case;
 * - `rejected`: some item's case was concluded with a rejection (wins over everything else);
 * - `missing`: some item has no case at all (the user never started it, or the grant lacks its scope);
 * - `contacted`: the user must act (upload a document, answer a question);
 * - `pending`: Fractal ID is still evaluating.
 */
export type KycStatus = 'approved' | 'pending' | 'contacted' | 'rejected' | 'missing';

/** The fields of one case that the decision reads, narrowed from whatever the provider sent. */
export interface KycCaseSummary {
  level: string;
  id?: string;
  status?: string;
  credential?: string;
  journey_completed?: boolean;
}

/** One item (the level or an add-on) of a requirement. */
export interface KycItemDecision {
  item: KycLevel | KycAddon;
  status: KycStatus;
  /** Every case that covers the item: its level equals the item, or names it in a `+`-joined level. */
  cases: KycCaseSummary[];
}

export interface KycDecision {
  status: KycStatus;
  /** The requirement's name, e.g. `basic+liveness`. */
  requirement: string;
  items: KycItemDecision[];
}

/**
 * Anything that carries verification cases: the `/v2/users/me` answer (`verification_cases`), a
 * passport `FractalProfile` (`verificationCases`), or the list itself. Read defensively: the
 * provider's examples omit fields its tables list, so every field is narrowed here from `unknown`.
 */
export type KycSource = { readonly verification_cases?: unknown } | { readonly verificationCases?: unknown } | readonly unknown[];

export interface KycStatusOptions {
  /**
   * Count a case with the legacy `status: 'approved'` and no `credential` as approved. Off by
   * default: a missing credential never approves (fail closed). The docs' own examples
   * (`user-integration/user-information-retrieval.md`) carry the outcome in `status` and no
   * `credential`; turn this on only if your client's live answers really look like that.
   *
   * **Security impact:** with it on, an answer that says `approved` anywhere but `credential` approves.
   */
  legacyApprovedStatus?: boolean;
}

/**
 * Decides a requirement against a user's verification cases. Pure and synchronous: no I/O.
 *
 * Rules (`user-integration/user-information-retrieval.md`, "verification_cases"):
 * - a case covers an item when its `level` equals the item or contains it in a `+`-joined level
 *   (the docs' text says one case per item, their examples show `"basic+liveness"` as one case);
 * - a case approves only with `credential: 'approved'` and, when a `status` is present, a concluded
 *   one (`done`, or the legacy `approved`). A missing or unknown `credential` never approves,
 *   whatever `status` or `journey_completed` say;
 * - a concluded `credential: 'rejected'`, or the legacy `status: 'rejected'`, rejects;
 * - otherwise `status: 'contacted'` means the user must act, anything else is pending;
 * - one approved case is enough for an item; the requirement's status is the worst of its items:
 *   rejected, then missing, then contacted, then pending.
 *
 * @throws ConfigurationError for an invalid requirement (validate it once with `parseKycRequirement`).
 */
export function kycStatus(
  source: KycSource,
  requirement: KycRequirementInput | KycRequirement,
  options: KycStatusOptions = {},
): KycDecision {
  const parsed = parseKycRequirement(requirement);
  const cases = readCases(source);
  const legacy = options.legacyApprovedStatus === true;
  const items = parsed.items.map((item): KycItemDecision => {
    const covering = cases.filter((c) => covers(c.level, item, parsed));
    return { item, status: itemStatus(covering, legacy), cases: covering };
  });
  return { status: worst(items.map((i) => i.status)), requirement: parsed.name, items };
}

/**
 * Add-ons a level includes by itself (`kyc-levels.md`, "Add-on support matrix": ✅ means
 * included), so a case of the level covers them too.
 */
const INCLUDED_ADDONS: Partial<Record<KycLevel, readonly KycAddon[]>> = { uniqueness: ['liveness'] };

function covers(caseLevel: string, item: string, requirement: KycRequirement): boolean {
  const names = caseLevel.split('+').map((n) => n.trim());
  if (names.includes(item)) return true;
  return (INCLUDED_ADDONS[requirement.level] ?? []).includes(item as KycAddon) && names.includes(requirement.level);
}

/** Narrows the cases of any source; entries without a usable `level` are skipped. */
export function readCases(source: KycSource): KycCaseSummary[] {
  let list: unknown;
  if (Array.isArray(source)) list = source;
  // A passport profile carries both `verificationCases` and the raw answer in `_json`; the former wins.
  else if (isRecord(source)) {
    const record: Record<string, unknown> = source;
    list = record.verificationCases !== undefined ? record.verificationCases : record.verification_cases;
  }
  if (!Array.isArray(list)) return [];
  const cases: KycCaseSummary[] = [];
  for (const entry of list) {
    if (!isRecord(entry) || typeof entry.level !== 'string' || entry.level.trim() === '') continue;
    const summary: KycCaseSummary = { level: entry.level };
    if (typeof entry.id === 'string') summary.id = entry.id;
    if (typeof entry.status === 'string') summary.status = entry.status;
    if (typeof entry.credential === 'string') summary.credential = entry.credential;
    if (typeof entry.journey_completed === 'boolean') summary.journey_completed = entry.journey_completed;
    cases.push(summary);
  }
  return cases;
}

/** Concluded: `done`, the legacy outcome values in `status`, or no status at all. */
function concluded(status: string | undefined): boolean {
  return status === undefined || status === 'done' || status === 'approved' || status === 'rejected';
}

function caseStatus(c: KycCaseSummary, legacyApproves: boolean): Exclude<KycStatus, 'missing'> {
  // Legacy answers put the outcome in `status`; a rejection there is honoured, an approval only
  // when the app opted in (fail closed by default).
  if (c.status === 'rejected') return 'rejected';
  if (legacyApproves && c.status === 'approved' && c.credential === undefined) return 'approved';
  if (concluded(c.status)) {
    if (c.credential === 'approved') return 'approved';
    if (c.credential === 'rejected') return 'rejected';
  }
  return c.status === 'contacted' ? 'contacted' : 'pending';
}

function itemStatus(cases: readonly KycCaseSummary[], legacyApproves: boolean): KycStatus {
  if (cases.length === 0) return 'missing';
  const statuses = cases.map((c) => caseStatus(c, legacyApproves));
  if (statuses.includes('approved')) return 'approved';
  return worst(statuses);
}

const ORDER: readonly KycStatus[] = ['rejected', 'missing', 'contacted', 'pending', 'approved'];

function worst(statuses: readonly KycStatus[]): KycStatus {
  for (const status of ORDER) if (statuses.includes(status)) return status;
  return 'approved';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
