import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Fixtures written from every request and response example of the provider docs
 * (`trustfractal/id-integration-docs`): same fields and shapes, values of our own. Each names its
 * source file in `source`.
 */
export const DOCS_FIXTURES = join(__dirname, '..', 'fixtures', 'docs');

export interface DocsFixture {
  /** The docs' file the example comes from, e.g. `user-integration/user-information-retrieval.md`. */
  source: string;
  example: string;
  body?: unknown;
  query?: Record<string, string>;
  request?: Record<string, string>;
  [field: string]: unknown;
}

export function docsFixture(path: string): DocsFixture {
  return JSON.parse(readFileSync(join(DOCS_FIXTURES, path), 'utf8')) as DocsFixture;
}

/** Every fixture file, relative to {@link DOCS_FIXTURES}. */
export function allDocsFixtures(dir = DOCS_FIXTURES): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? allDocsFixtures(join(dir, entry.name)) : entry.name.endsWith('.json') ? [relative(DOCS_FIXTURES, join(dir, entry.name))] : [],
  );
}

export interface UsersMeFields {
  top: Record<string, string>;
  emails: Record<string, FieldType>;
  phones: Record<string, FieldType>;
  verification_cases: Record<string, FieldType>;
  wallets: Record<string, FieldType>;
  details: Record<string, FieldType>;
}

/** A type of the docs' tables: a name (`string`, `url`, `date`, ...) or an enum's values. */
export type FieldType = string | string[];

/** Why `value` does not fit the documented type, or undefined when it does. */
export function misfit(value: unknown, type: FieldType): string | undefined {
  if (Array.isArray(type)) return typeof value === 'string' && type.includes(value) ? undefined : `not one of ${type.join('|')}`;
  const ok: Record<string, (v: unknown) => boolean> = {
    string: (v) => typeof v === 'string',
    boolean: (v) => typeof v === 'boolean',
    object: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
    array: Array.isArray,
    url: (v) => typeof v === 'string' && /^https:\/\//.test(v),
    date: (v) => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v),
    country: (v) => typeof v === 'string' && /^[A-Z]{2}$/.test(v),
    e164: (v) => typeof v === 'string' && /^\+[1-9]\d{1,14}$/.test(v),
    uuid: (v) => typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v),
  };
  const check = ok[type];
  if (!check) return `unknown documented type ${type}`;
  return check(value) ? undefined : `not a ${type}`;
}

/** Every field of `object` that the table does not list or whose value does not fit. */
export function offTable(object: Record<string, unknown>, table: Record<string, FieldType>, where: string): string[] {
  const problems: string[] = [];
  for (const [field, value] of Object.entries(object)) {
    const type = table[field];
    if (type === undefined) problems.push(`${where}.${field} is not in the docs' table`);
    else {
      const why = misfit(value, type);
      if (why) problems.push(`${where}.${field} ${why}: ${JSON.stringify(value)}`);
    }
  }
  return problems;
}
