import { createHash } from 'node:crypto';
import type { SandboxUser, SandboxWallet } from '../types';

/**
 * Plausible, obviously fake verification details. The provider docs say some detail fields are
 * for persons only and others for institutions only; the exact field list is not public, so
 * these names are illustrative. Values are derived from the user so they are stable across calls.
 */
export function fakeDetails(user: SandboxUser, level: string): Record<string, unknown> {
  switch (level) {
    case 'uniqueness':
    case 'basic':
    case 'plus':
      return user.userType === 'institution' ? institutionDetails(user, level) : personDetails(user, level);
    case 'liveness':
      return { liveness: true, liveness_date: '2024-01-15' };
    case 'selfie':
      return { selfie: true };
    case 'sow':
      return { source_of_wealth: 'employment', source_of_wealth_description: 'Salary (sandbox data)' };
    case 'ssn':
      // 000 is never issued as an SSN area number, so this cannot be someone's real number.
      return { social_security_number: `000-${digits(user, 2, 'ssn-a')}-${digits(user, 4, 'ssn-b')}` };
    case 'telegram':
      return { telegram_username: `${handle(user)}_sandbox` };
    case 'twitter':
      return { twitter_username: `${handle(user)}_sandbox` };
    case 'uniq':
      return { uniqueness_checked: true };
    case 'idos':
      return { idos_human_id: stableUuid(user, 'idos') };
    default:
      if (level === 'wallet' || level.startsWith('wallet-')) return walletDetails(user.wallets, level);
      return {};
  }
}

function personDetails(user: SandboxUser, level: string): Record<string, unknown> {
  const name = displayName(user);
  const details: Record<string, unknown> = { full_name: name };
  if (level === 'uniqueness') return details;
  Object.assign(details, {
    date_of_birth: '1990-01-01',
    place_of_birth: 'Berlin',
    nationality: user.country,
    identification_document_type: 'passport',
    identification_document_number: `SBX${digits(user, 7, 'document')}`,
    identification_document_country: user.country,
    residential_address_country: user.country,
  });
  if (level === 'plus') {
    Object.assign(details, {
      residential_address: '1 Sandbox Street',
      residential_address_zip: '10115',
      residential_address_city: 'Berlin',
      occupation: 'Software tester',
    });
  }
  return details;
}

function institutionDetails(user: SandboxUser, level: string): Record<string, unknown> {
  const details: Record<string, unknown> = { company_name: `${displayName(user)} GmbH` };
  if (level === 'uniqueness') return details;
  Object.assign(details, {
    registration_number: `HRB ${digits(user, 6, 'registration')}`,
    registration_country: user.country,
    legal_form: 'limited_liability_company',
    incorporation_date: '2015-06-01',
    registered_address: '1 Sandbox Street, 10115 Berlin',
  });
  if (level === 'plus') {
    Object.assign(details, { business_type: 'software', website: 'https://example.com' });
  }
  return details;
}

function walletDetails(wallets: readonly SandboxWallet[], level: string): Record<string, unknown> {
  const currency = level === 'wallet' ? undefined : level.slice('wallet-'.length);
  const wallet = wallets.find((w) => currency === undefined || w.currency === currency);
  return wallet ? { wallet_address: wallet.address, wallet_currency: wallet.currency } : {};
}

/** `alice.smith@example.com` -> `Alice Smith`. */
function displayName(user: SandboxUser): string {
  const local = user.email.split('@')[0] ?? 'sandbox';
  const words = local.split(/[._+-]+/).filter((w) => w.length > 0);
  const name = words.map((w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase()).join(' ');
  return words.length > 1 ? name : `${name || 'Sandbox'} Example`;
}

function handle(user: SandboxUser): string {
  return (user.email.split('@')[0] ?? 'sandbox').replace(/[^A-Za-z0-9_]/g, '_').slice(0, 20);
}

function digits(user: SandboxUser, count: number, salt: string): string {
  const hex = createHash('sha256').update(`${salt}:${user.uid}`).digest('hex');
  return BigInt(`0x${hex.slice(0, 15)}`).toString().padStart(count, '0').slice(-count);
}

function stableUuid(user: SandboxUser, salt: string): string {
  const hex = createHash('sha256').update(`${salt}:${user.uid}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
