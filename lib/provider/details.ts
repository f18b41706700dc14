/**
 * The documented `details` fields of a verification case, from the field tables of the provider
 * docs (`user-integration/user-information-retrieval.md`, section "details"). Every field is
 * optional: which ones come depends on the level or add-on of the case, the user's type (person or
 * institution) and the app's configuration, and the docs warn that fields may be added or removed
 * ("As our process evolves, we may add or remove fields from this list"). Unknown fields are kept.
 *
 * Fields ending in `_file` are URLs that expire a few hours after the request (same page, last
 * warning): download them at once, never store the URL.
 */

/** Fields without a restriction in the docs' tables (identification, liveness, residency, ssn, sow). */
export const COMMON_DETAIL_FIELDS = [
  'date_of_birth',
  'full_name',
  'identification_document_back_file',
  'identification_document_country',
  'identification_document_front_file',
  'identification_document_number',
  'identification_document_type',
  'place_of_birth',
  'identification_document_selfie_file',
  'identification_document_date_of_issue',
  'identification_document_date_of_expiry',
  'liveness_audit_best_file',
  'liveness_audit_least_similar_file',
  'liveness_audit_open_eyes_file',
  'liveness_audit_quality1_file',
  'liveness_audit_quality2_file',
  'liveness_audit_quality3_file',
  'residential_address_country',
  'residential_address_proof_file',
  'residential_address',
  'residential_address_line1',
  'residential_address_line2',
  'residential_address_city',
  'residential_address_zip',
  'residential_address_proof_date_of_expiry',
  'sow_estimated_net_worth_currency',
  'sow_estimated_net_worth_value',
  'social_security_number',
] as const;

/** Marked `person` in the docs' tables (source of wealth of a natural person). */
export const PERSON_DETAIL_FIELDS = [
  'sow_type',
  'sow_crypto_bank_statement_file',
  'sow_crypto_source_of_initial_investment_file',
  'sow_crypto_transactions_last_3_months_file',
  'sow_dividends_bank_statement_file',
  'sow_dividends_entitlement_file',
  'sow_divorce_settlement_bank_statement_file',
  'sow_divorce_settlement_proof_file',
  'sow_freelance_bank_statement_file',
  'sow_freelance_last_year_tax_returns_file',
  'sow_freelance_service_contracts_file',
  'sow_gifts_bank_statement_file',
  'sow_gifts_name_of_donator',
  'sow_gifts_reason_for_donation',
  'sow_gifts_relationship_with_donator',
  'sow_inheritance_bank_statement_file',
  'sow_inheritance_proof_file',
  'sow_lease_revenue_agreement_file',
  'sow_lease_revenue_bank_statement_file',
  'sow_life_policy_bank_statement_file',
  'sow_life_policy_closing_statement_file',
  'sow_pension_bank_statement_file',
  'sow_pension_statement_file',
  'sow_salary_bank_statement_file',
  'sow_salary_last_year_tax_returns_file',
  'sow_salary_pay_slips_last_3_months_file',
  'sow_sale_of_company_bank_statement_file',
  'sow_sale_of_company_contract_file',
  'sow_sale_of_property_bank_statement_file',
  'sow_sale_of_property_contract_file',
  'sow_sale_of_shares_bank_statement_file',
  'sow_sale_of_shares_proof_file',
] as const;

/** "Institution related fields" plus the source-of-wealth fields marked `institution`. */
export const INSTITUTION_DETAIL_FIELDS = [
  'articles_of_association_file',
  'beneficial_owner',
  'certificate_of_corporate_status_file',
  'certificate_of_good_standing_file',
  'certificate_of_incorporation_file',
  'commercial_register_entry_file',
  'commercial_register',
  'company_name',
  'company_seat',
  'jurisdiction',
  'legal_form',
  'managing_directors',
  'owner_identity_proof_file',
  'power_of_attorney_file',
  'secretary_certificate_file',
  'shareholders_list_file',
  'transparency_register_entry_file',
  'unique_identification_number',
  'sow_balance_sheet_file',
  'sow_cash_flow_statement_file',
  'sow_income_statement_file',
  'sow_unaudited_accountant_name',
  'sow_unaudited_accountant_professional_body',
] as const;

/** The one documented boolean detail (add-on `liveness`); every other documented field is a string. */
export const BOOLEAN_DETAIL_FIELDS = ['liveness'] as const;

type StringFields<T extends readonly string[]> = { [K in T[number]]?: string };

/** Details any user may have. Dates are `YYYY-MM-DD`, countries ISO 3166-1 alpha-2, `*_file` URLs. */
export type FractalCommonDetails = StringFields<typeof COMMON_DETAIL_FIELDS> & {
  /** Add-on `liveness`: whether the liveness check passed. */
  liveness?: boolean;
  identification_document_type?: 'national_id' | 'passport' | 'drivers_license' | (string & {});
  sow_estimated_net_worth_currency?: 'EUR' | 'USD' | (string & {});
};
/** Details documented for natural persons only. */
export type FractalPersonDetails = StringFields<typeof PERSON_DETAIL_FIELDS>;
/** Details documented for institutions only. */
export type FractalInstitutionDetails = StringFields<typeof INSTITUTION_DETAIL_FIELDS>;

/**
 * `details` of a verification case: the documented fields (all optional) and whatever else the
 * provider sends (kept as it came).
 */
export type FractalDetails = FractalCommonDetails &
  FractalPersonDetails &
  FractalInstitutionDetails & {
    [field: string]: unknown;
  };

const STRING_FIELDS = new Set<string>([...COMMON_DETAIL_FIELDS, ...PERSON_DETAIL_FIELDS, ...INSTITUTION_DETAIL_FIELDS]);
const BOOLEAN_FIELDS = new Set<string>(BOOLEAN_DETAIL_FIELDS);

/**
 * Keeps every field of a `details` object except a documented one of the wrong type (or `null`),
 * which is left out: a malformed detail must not fail a sign-in, and must not reach the app typed
 * as something it is not.
 */
export function readDetails(value: Record<string, unknown>): FractalDetails {
  // Object.fromEntries defines own properties, so a `__proto__` key stays a plain field.
  return Object.fromEntries(
    Object.entries(value).filter(([field, v]) => {
      if (STRING_FIELDS.has(field)) return typeof v === 'string';
      if (BOOLEAN_FIELDS.has(field)) return typeof v === 'boolean';
      return true;
    }),
  ) as FractalDetails;
}
