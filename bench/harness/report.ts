import type { ChartBar } from './chart';
import { fmt } from './format';
import { pairedRatios, type SideSummary } from './rounds';

export { fmt } from './format';

/** What each scenario hands back to the runner: printed tables, verdicts, and raw data for the JSON file. */
export interface ScenarioResult {
  id: number;
  title: string;
  tables: Table[];
  verdicts: Verdict[];
  notes: string[];
  data: unknown;
  seconds?: number;
  /** Throughput ratios for the chart (docs/performance.svg), one bar each. */
  chart?: ChartBar[];
}

export interface Table {
  title: string;
  columns: string[];
  rows: string[][];
}

export interface Verdict {
  target: string;
  measured: string;
  /** null: not measured (skipped or failed). */
  pass: boolean | null;
}

export function verdict(target: string, measured: string, pass: boolean | null): Verdict {
  return { target, measured, pass };
}


/**
 * The usual throughput table: one row per side; ratios against the first row (the baseline) are
 * medians of per-round paired ratios (see `pairedRatios`). With `cpu`, also the server's CPU time
 * per request and its paired ratio.
 */
export function throughputTable(title: string, sides: readonly SideSummary[], unit = 'req/s', cpu = false): Table {
  const base = sides[0];
  const columns = ['variant', `${unit} (median)`, 'p50 ms', 'p99 ms', `${unit} per round`, 'failed', 'ratio per round', 'ratio (median)'];
  if (cpu) columns.push('server CPU µs/req', 'CPU ratio');
  return {
    title,
    columns,
    rows: sides.map((side) => {
      const paired = base && side !== base ? pairedRatios(base, side) : undefined;
      const row = [
        side.label,
        fmt.int(side.rps),
        fmt.ms(side.p50),
        fmt.ms(side.p99),
        side.rounds.map((r) => fmt.int(r.rps)).join(' / '),
        String(side.failed),
        paired ? paired.perRound.map(fmt.ratio).join(' / ') : '',
        paired ? fmt.ratio(paired.median) : '1.00',
      ];
      if (cpu) row.push(fmt.int(side.cpuUs), base && side !== base ? fmt.ratio(pairedRatios(base, side, (s) => s.cpuUs ?? Number.NaN).median) : '1.00');
      return row;
    }),
  };
}

export function renderText(table: Table): string {
  const widths = table.columns.map((c, i) => Math.max(c.length, ...table.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  return [table.title, line(table.columns), widths.map((w) => '-'.repeat(w)).join('  '), ...table.rows.map(line)].join('\n');
}

export function renderMarkdown(table: Table): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `**${table.title}**`,
    '',
    `| ${table.columns.map(esc).join(' | ')} |`,
    `| ${table.columns.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...table.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/** A paired ratio for a verdict: the median, the spread of the rounds and the ratio of the medians. */
export function ratioText(paired: { perRound: number[]; median: number }, ratioOfMedians: number): string {
  const finite = paired.perRound.filter(Number.isFinite);
  const range = finite.length > 0 ? `rounds ${fmt.ratio(Math.min(...finite))}-${fmt.ratio(Math.max(...finite))}` : 'no rounds';
  return `${fmt.ratio(paired.median)} (median of paired rounds; ${range}; ratio of medians ${fmt.ratio(ratioOfMedians)})`;
}

export function verdictLine(v: Verdict): string {
  const mark = v.pass === null ? 'N/A ' : v.pass ? 'PASS' : 'MISS';
  return `${mark}  ${v.target}: ${v.measured}`;
}
