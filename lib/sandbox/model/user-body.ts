import { CONTACT_SCOPE, UID_SCOPE, parseScope } from '../../provider';
import { fakeDetails } from './fake-details';
import type { SandboxUser } from '../types';

/**
 * The body of `GET /v2/users/me`: each field only when a scope grants it (provider docs,
 * "Resource API"). A case is shown when its status or details scope was granted; `details`
 * only with the `.details:read` scope.
 */
export function userInfoBody(user: SandboxUser, scopes: readonly string[]): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (scopes.includes(UID_SCOPE)) body.uid = user.uid;
  if (scopes.includes(CONTACT_SCOPE)) {
    body.emails = [{ address: user.email, source_type: 'registration' }];
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
    body.verification_cases = user.verificationCases
      .filter((c) => statusOf.has(c.level))
      .map((c) => {
        const shown: Record<string, unknown> = {
          id: c.id,
          level: c.level,
          status: c.status,
          credential: c.credential,
          journey_completed: c.journeyCompleted,
        };
        if (detailsOf.has(c.level)) shown.details = fakeDetails(user, c.level);
        return shown;
      });
  }
  if ([...statusOf].some((name) => name === 'wallet' || name.startsWith('wallet-'))) {
    body.wallets = user.wallets.map((w) => ({ id: w.id, address: w.address, currency: w.currency, verified: w.verified }));
  }
  return body;
}
