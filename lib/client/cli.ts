#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { describeError, ExitCode, parseOrUsage, processIo, runCommand, UsageError, type CliIo } from '../cli';
import type { FractalDomains, FractalEnvironment } from '../provider';
import { FractalClient } from './client';
import { formatTable } from './table';
import type { CountryVerifications, TotalVerifications, UserVerifications } from './types';

/**
 * `fractal-stats`: prints an app's Fractal ID statistics. Credentials come from the environment
 * (never from arguments, which other users of the machine can read in the process list).
 */

const USAGE = `Usage: fractal-stats [--env production|staging] [--users id1,id2 | --all-users] [--json]

Prints the verification statistics of your Fractal ID app (client credentials grant,
scope client.stats:read).

Environment:
  FRACTAL_CLIENT_ID       client ID of the app (required)
  FRACTAL_CLIENT_SECRET   client secret of the app (required; never printed)
  FRACTAL_AUTH_URL        override the auth origin (e.g. a local sandbox)
  FRACTAL_RESOURCE_URL    override the resource origin

Options:
  --env <name>     production (default) or staging
  --users <ids>    also show the verifications of these user ids (comma-separated)
  --all-users      also show the verifications of every user of the app
  --json           print JSON instead of tables
  -h, --help       show this help

Exit codes: 0 success, 1 the provider or the network failed, 2 wrong usage or missing credentials.`;

export type { CliIo } from '../cli';

interface Report {
  environment: FractalEnvironment;
  total: TotalVerifications;
  countries: CountryVerifications;
  users?: UserVerifications;
}

/** Runs the CLI; resolves to the exit code (0 ok, 1 the provider or network failed, 2 wrong usage). */
export function runCli(argv: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<ExitCode> {
  return runCommand('fractal-stats', io, () => stats(argv, env, io), USAGE);
}

async function stats(argv: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<ExitCode> {
  const { values } = parseOrUsage(() =>
    parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        env: { type: 'string' },
        users: { type: 'string' },
        'all-users': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return ExitCode.OK;
  }
  const environment = values.env ?? 'production';
  if (environment !== 'production' && environment !== 'staging') {
    throw new UsageError(`--env must be "production" or "staging", got ${JSON.stringify(environment)}`);
  }
  const clientID = env.FRACTAL_CLIENT_ID;
  const clientSecret = env.FRACTAL_CLIENT_SECRET;
  if (!clientID || !clientSecret) {
    const missing = [!clientID && 'FRACTAL_CLIENT_ID', !clientSecret && 'FRACTAL_CLIENT_SECRET'].filter(Boolean).join(' and ');
    throw new UsageError(`set ${missing} to the credentials of your Fractal ID app (see --help)`);
  }
  const userIds = values.users === undefined ? undefined : values.users.split(',').map((id) => id.trim()).filter((id) => id.length > 0);
  if (userIds !== undefined && userIds.length === 0) throw new UsageError('--users needs at least one user id');
  if (userIds !== undefined && values['all-users']) throw new UsageError('--users and --all-users exclude each other');

  const domains: Partial<FractalDomains> = {};
  if (env.FRACTAL_AUTH_URL) domains.auth = env.FRACTAL_AUTH_URL;
  if (env.FRACTAL_RESOURCE_URL) domains.resource = env.FRACTAL_RESOURCE_URL;
  let client: FractalClient;
  try {
    client = new FractalClient({ clientID, clientSecret, environment, domains });
  } catch (err) {
    // A bad origin in the environment is wrong usage, not a failure of the provider.
    throw new UsageError(describeError(err));
  }
  try {
    const report: Report = {
      environment,
      total: await client.stats.totalVerifications(),
      countries: await client.stats.countryVerifications(),
    };
    if (userIds !== undefined || values['all-users']) {
      // The endpoint takes no parameters (back-office-integration/application-statistics.md): it
      // answers every user, and --users filters here.
      const all = await client.stats.userVerifications();
      const wanted = userIds === undefined ? undefined : new Set(userIds);
      report.users = wanted === undefined ? all : all.filter((entry) => wanted.has(entry.user_id));
    }
    io.stdout(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderTables(report, userIds)}\n`);
    return ExitCode.OK;
  } finally {
    await client.close();
  }
}

function renderTables(report: Report, userIds: readonly string[] | undefined): string {
  const statuses = ['approved', 'contacted', 'rejected', 'pending'];
  const extra = ['expired'].filter((s) => report.total[s] !== undefined || Object.values(report.countries).some((c) => c[s] !== undefined));
  const columns = [...statuses, ...extra];
  const count = (value: unknown): number | string => (typeof value === 'number' ? value : '-');
  // A country lists only the statuses it has (back-office-integration/application-statistics.md).
  const countryCount = (value: unknown): number | string => (value === undefined ? 0 : count(value));
  const sections = [
    `Total verifications (${report.environment})`,
    formatTable(['status', 'count'], columns.map((s) => [s, count(report.total[s])])),
    '',
    'Verifications by country',
  ];
  const countries = Object.keys(report.countries).sort();
  sections.push(
    countries.length === 0
      ? '(no verifications)'
      : formatTable(['country', ...columns], countries.map((c) => [c, ...columns.map((s) => countryCount(report.countries[c]?.[s]))])),
  );
  if (report.users) {
    const rows: (string | number)[][] = [];
    const byUser = new Map<string, UserVerifications>();
    for (const entry of report.users) byUser.set(entry.user_id, [...(byUser.get(entry.user_id) ?? []), entry]);
    // The asked-for order, then a line for each asked-for user the provider listed no level for.
    for (const uid of userIds ? [...new Set(userIds)] : [...byUser.keys()].sort()) {
      const entries = byUser.get(uid);
      if (!entries) rows.push([uid, '-', 'no verification']);
      else for (const e of [...entries].sort((a, b) => a.level.localeCompare(b.level))) rows.push([uid, e.level, e.credential ?? '-']);
    }
    sections.push('', 'User verifications', rows.length === 0 ? '(no verifications)' : formatTable(['user', 'level', 'credential'], rows));
  }
  return sections.join('\n');
}

if (require.main === module) {
  runCli(process.argv.slice(2), process.env, processIo).then((code) => {
    process.exitCode = code;
  });
}
