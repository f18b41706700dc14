import { createHash } from 'node:crypto';
import type { SandboxUser } from '../types';

/**
 * Plausible, obviously fake verification details, with only the field names of the docs' tables
 * (`user-integration/user-information-retrieval.md`, "details") for the level or add-on that the
 * "KYC level availability" column names, person or institution fields by the "Restrictions"
 * column. Levels and add-ons without documented detail fields (`uniqueness`, `uniq`, `telegram`,
 * `twitter`, `idos`, wallets) get `{}`. File URLs use the reserved `.invalid` domain (RFC 2606),
 * so nothing ever fetches them. Values derive from the user, so they are stable across calls.
 */
export function fakeDetails(user: SandboxUser, level: string): Record<string, unknown> {
  const institution = user.userType === 'institution';
  switch (level) {
    case 'basic':
      return identification(user, false);
    case 'plus':
      return institution ? { ...institutionDetails(user), ...residency(user) } : { ...identification(user, true), ...residency(user) };
    case 'liveness':
      return {
        liveness: true,
        liveness_audit_best_file: file(user, 'liveness_audit_best'),
        liveness_audit_least_similar_file: file(user, 'liveness_audit_least_similar'),
        liveness_audit_open_eyes_file: file(user, 'liveness_audit_open_eyes'),
        liveness_audit_quality1_file: file(user, 'liveness_audit_quality1'),
        liveness_audit_quality2_file: file(user, 'liveness_audit_quality2'),
        liveness_audit_quality3_file: file(user, 'liveness_audit_quality3'),
      };
    case 'selfie':
      return {
        identification_document_front_file: file(user, 'identification_document_front'),
        identification_document_back_file: file(user, 'identification_document_back'),
        identification_document_selfie_file: file(user, 'identification_document_selfie'),
      };
    case 'sow':
      return {
        sow_estimated_net_worth_currency: 'EUR',
        sow_estimated_net_worth_value: '100000',
        ...(institution
          ? { sow_balance_sheet_file: file(user, 'sow_balance_sheet'), sow_unaudited_accountant_name: 'Sandbox Accounting' }
          : { sow_type: 'salary', sow_salary_pay_slips_last_3_months_file: file(user, 'sow_salary_pay_slips_last_3_months') }),
      };
    case 'ssn':
      // 000 is never issued as an SSN area number, so this cannot be someone's real number.
      return { social_security_number: `000-${digits(user, 2, 'ssn-a')}-${digits(user, 4, 'ssn-b')}` };
    default:
      return {};
  }
}

function identification(user: SandboxUser, plus: boolean): Record<string, unknown> {
  const details: Record<string, unknown> = {
    full_name: displayName(user),
    date_of_birth: '1990-01-01',
    identification_document_country: user.country,
    identification_document_number: `SBX${digits(user, 7, 'document')}`,
    identification_document_date_of_issue: '2020-01-01',
    identification_document_date_of_expiry: '2030-01-01',
  };
  if (plus) Object.assign(details, { identification_document_type: 'passport', place_of_birth: 'Berlin' });
  else Object.assign(details, { identification_document_front_file: file(user, 'identification_document_front'), identification_document_back_file: file(user, 'identification_document_back') });
  return details;
}

function residency(user: SandboxUser): Record<string, unknown> {
  return {
    residential_address_country: user.country,
    residential_address: '1 Sandbox Street, 10115 Berlin',
    residential_address_proof_file: file(user, 'residential_address_proof'),
    residential_address_proof_date_of_expiry: '2030-01-01',
  };
}

function institutionDetails(user: SandboxUser): Record<string, unknown> {
  return {
    company_name: `${displayName(user)} GmbH`,
    legal_form: 'GmbH',
    jurisdiction: user.country,
    company_seat: 'Berlin',
    commercial_register: 'Amtsgericht Sandbox',
    commercial_register_entry_file: file(user, 'commercial_register_entry'),
    managing_directors: displayName(user),
    beneficial_owner: displayName(user),
    articles_of_association_file: file(user, 'articles_of_association'),
    shareholders_list_file: file(user, 'shareholders_list'),
  };
}

function file(user: SandboxUser, name: string): string {
  return `https://files.sandbox.invalid/${user.uid}/${name}.jpg`;
}

/** `alice.smith@example.com` -> `Alice Smith`. */
function displayName(user: SandboxUser): string {
  const local = user.email.split('@')[0] ?? 'sandbox';
  const words = local.split(/[._+-]+/).filter((w) => w.length > 0);
  const name = words.map((w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase()).join(' ');
  return words.length > 1 ? name : `${name || 'Sandbox'} Example`;
}

function digits(user: SandboxUser, count: number, salt: string): string {
  const hex = createHash('sha256').update(`${salt}:${user.uid}`).digest('hex');
  return BigInt(`0x${hex.slice(0, 15)}`).toString().padStart(count, '0').slice(-count);
}
