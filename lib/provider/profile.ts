import type { Profile } from 'passport';
import type { FractalUser, FractalVerificationCase, FractalWallet } from './user-info';

/**
 * The passport profile built from `/v2/users/me` (read tolerantly: see `parseFractalUser`). Only
 * `id` is sure; lists are empty when the scopes or the answer gave none.
 */
export interface FractalProfile extends Profile {
  provider: 'fractal';
  /** The Fractal ID `uid` (anonymised, stable per user). */
  id: string;
  /** Fractal ID has no display name: the first email when `contact:read` was granted, else the uid. */
  displayName: string;
  emails?: Array<{ value: string; type?: string }>;
  phoneNumbers?: Array<{ value: string }>;
  /**
   * The verification cases: one per level and add-on, or one with a `+`-joined level (the docs show
   * both, `user-integration/user-information-retrieval.md`). Empty without verification scopes.
   */
  verificationCases: FractalVerificationCase[];
  /** Empty without wallet scopes. */
  wallets: FractalWallet[];
  /** The whole answer as read (documented fields of the wrong type left out), unknown fields included. */
  _json: FractalUser;
}

export function toFractalProfile(user: FractalUser): FractalProfile {
  const emails = user.emails?.filter((e) => e.source_type !== 'obsolete').map((e) => ({ value: e.address, type: e.source_type }));
  const profile: FractalProfile = {
    provider: 'fractal',
    id: user.uid,
    displayName: emails?.[0]?.value ?? user.uid,
    verificationCases: user.verification_cases ?? [],
    wallets: user.wallets ?? [],
    _json: user,
  };
  if (emails && emails.length > 0) profile.emails = emails;
  if (user.phones && user.phones.length > 0) profile.phoneNumbers = user.phones.map((p) => ({ value: p.number }));
  return profile;
}
