import { CONTACT_SCOPE, KYC_LEVELS, UID_SCOPE, parseScope } from '../../provider';
import { fakeDetails } from './fake-details';
import { statsStatus } from './stats';
import type { SandboxResponseShape, SandboxUser, SandboxVerificationCase } from '../types';

/**
 * The body of `GET /v2/users/me`: each field only when a scope grants it
 * (`user-integration/user-information-retrieval.md`). A case is shown when its status or details
 * scope was granted; `details` only with the `.details:read` scope. `shape` picks between the docs'
 * field tables (`full`) and the looser shapes of the docs' own examples (`minimal`).
 */
export function userInfoBody(user: SandboxUser, scopes: readonly string[], shape: SandboxResponseShape = 'full'): Record<string, unknown> {
  const minimal = shape === 'minimal';
  const body: Record<string, unknown> = {};
  if (scopes.includes(UID_SCOPE)) body.uid = user.uid;
  if (scopes.includes(CONTACT_SCOPE)) {
    body.emails = [minimal ? { address: user.email } : { address: user.email, source_type: 'registration' }];
    body.phones = user.phones.map((number) => ({ number }));
  }
  const statusOf = new Set<string>();
  const detailsOf = new Set<string>();
  for (const scope of scopes) {
    const parsed = parseScope(scope);
    if ((parsed.kind === 'level' || parsed.kind === 'addon') && parsed.name) {
      statusOf.add(parsed.name);
      if (parsed.details) detailsOf.add(parsed.name);
    }
  }
  if (statusOf.size > 0) {
    const shown = user.verificationCases.filter((c) => statusOf.has(c.level));
    body.verification_cases = minimal
      ? minimalCases(user, shown, detailsOf)
      : shown.map((c) => {
          const fields: Record<string, unknown> = {
            id: c.id,
            level: c.level,
            status: c.status,
            credential: c.credential,
            journey_completed: c.journeyCompleted,
          };
          if (detailsOf.has(c.level)) fields.details = fakeDetails(user, c.level);
          return fields;
        });
  }
  if ([...statusOf].some((name) => name === 'wallet' || name.startsWith('wallet-'))) {
    body.wallets = user.wallets.map((w) =>
      minimal ? { currency: w.currency, address: w.address } : { id: w.id, address: w.address, currency: w.currency, verified: w.verified },
    );
  }
  return body;
}

const LEVELS = new Set<string>(KYC_LEVELS);

/**
 * The docs' examples: each level case carries its add-ons in a `+`-joined level with one outcome
 * in `status` (`"level": "basic+liveness", "status": "approved"`) and `details: null` when no
 * details were granted; an add-on without a level case stands alone with neither (response2's
 * `basic+liveness+wallet-eth` case has only `level` and `report`).
 */
function minimalCases(user: SandboxUser, cases: readonly SandboxVerificationCase[], detailsOf: ReadonlySet<string>): Record<string, unknown>[] {
  const levels = cases.filter((c) => LEVELS.has(c.level));
  const addons = cases.filter((c) => !LEVELS.has(c.level));
  if (levels.length === 0) return addons.map((c) => ({ level: c.level }));
  return levels.map((level) => {
    const items = [level, ...addons];
    const withDetails = items.filter((c) => detailsOf.has(c.level));
    return {
      details: withDetails.length === 0 ? null : Object.assign({}, ...withDetails.map((c) => fakeDetails(user, c.level))),
      level: items.map((c) => c.level).join('+'),
      status: combinedOutcome(items),
    };
  });
}

/** One outcome for several items: any rejection, else all approved, else contacted, else pending. */
function combinedOutcome(items: readonly SandboxVerificationCase[]): string {
  const outcomes = items.map(statsStatus);
  if (outcomes.includes('rejected')) return 'rejected';
  if (outcomes.every((o) => o === 'approved')) return 'approved';
  if (outcomes.includes('contacted')) return 'contacted';
  return 'pending';
}
