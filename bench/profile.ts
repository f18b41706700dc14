/**
 * Summarises V8 CPU profiles written by `npm run bench -- --cpu-prof` (one per server process, in
 * bench/results/profiles/<run>/): where a server spent its time, by package and by function. Each
 * server also wrote how many HTTP requests it answered, so times are also given per request.
 *
 *   node -r ts-node/register/transpile-only bench/profile.ts <server>.cpuprofile [top]
 *   node -r ts-node/register/transpile-only bench/profile.ts --diff <ours>.cpuprofile <baseline>.cpuprofile [top]
 *
 * `--diff` compares self time per request by package, largest extra cost first. Start-up (ts-node,
 * module loading) is left out. Self time is used because async continuations break call stacks.
 */
import { existsSync, readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

interface Loaded {
  /** Busy self time (µs) by package or file. */
  groups: Map<string, number>;
  /** Busy self time (µs) by function. */
  functions: Map<string, number>;
  totalUs: number;
  busyUs: number;
  /** HTTP requests the server answered, when its sidecar file exists. */
  requests: number | undefined;
}

const IDLE = new Set(['(idle)', '(program)']);
const STARTUP = new Set(['typescript', 'ts-node', '@cspotcode/source-map-support', 'source-map-support', 'acorn', 'node:internal/modules/cjs/loader']);

/** node_modules/<pkg>, our dist/<file>, node:<internal>, or a V8 entry such as (garbage collector). */
export function groupOf(url: string, functionName: string): string {
  if (url === '') return `(${functionName || 'anonymous'})`;
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return `passport-fractal-id ${url.slice(dist + 1)}`;
  if (url.startsWith('node:')) return url;
  const bench = url.indexOf('/bench/');
  return bench >= 0 ? url.slice(bench + 1) : url;
}

function load(file: string): Loaded {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  let totalUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    totalUs += us;
    if (frame.url === '' && IDLE.has(frame.functionName)) continue;
    const group = groupOf(frame.url, frame.functionName);
    if (STARTUP.has(group)) continue;
    busyUs += us;
    groups.set(group, (groups.get(group) ?? 0) + us);
    const fn = `${frame.functionName || '(anonymous)'} ${group}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    functions.set(fn, (functions.get(fn) ?? 0) + us);
  }
  const sidecar = file.replace(/\.cpuprofile$/, '.requests.json');
  const requests = existsSync(sidecar) ? (JSON.parse(readFileSync(sidecar, 'utf8')) as { requests: number }).requests : undefined;
  return { groups, functions, totalUs, busyUs, requests };
}

function top(map: Map<string, number>, n: number): [string, number][] {
  return [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

export function summarize(file: string, n = 25): string {
  const p = load(file);
  const per = (us: number) => (p.requests ? `${(us / p.requests).toFixed(1).padStart(8)} µs/req` : '');
  const line = ([name, us]: [string, number]) => `${((us / p.busyUs) * 100).toFixed(1).padStart(5)} %  ${(us / 1e6).toFixed(2).padStart(6)} s ${per(us)}  ${name}`;
  return [
    `${(p.totalUs / 1e6).toFixed(1)} s sampled, ${(p.busyUs / 1e6).toFixed(1)} s busy after start-up${p.requests ? `, ${p.requests} requests (${(p.busyUs / p.requests).toFixed(0)} µs busy per request)` : ''}`,
    '',
    'self time by package / file:',
    ...top(p.groups, n).map(line),
    '',
    'self time by function:',
    ...top(p.functions, n).map(line),
  ].join('\n');
}

export function diff(fileA: string, fileB: string, n = 25): string {
  const a = load(fileA);
  const b = load(fileB);
  if (!a.requests || !b.requests) throw new Error('--diff needs the .requests.json files the servers write next to their profiles');
  const ra = a.requests;
  const rb = b.requests;
  const names = new Set([...a.groups.keys(), ...b.groups.keys()]);
  const rows = [...names].map((name) => ({ name, a: (a.groups.get(name) ?? 0) / ra, b: (b.groups.get(name) ?? 0) / rb }));
  rows.sort((x, y) => y.a - y.b - (x.a - x.b));
  const fmtRow = (name: string, x: number, y: number) => `${x.toFixed(1).padStart(9)} ${y.toFixed(1).padStart(9)} ${(x - y).toFixed(1).padStart(8)}  ${name}`;
  const shown = [...rows.slice(0, n), ...rows.slice(-Math.min(8, Math.max(0, rows.length - n)))];
  return [
    `self time per request (µs), start-up excluded: A = ${fileA} (${ra} requests), B = ${fileB} (${rb} requests)`,
    `${'A'.padStart(9)} ${'B'.padStart(9)} ${'A - B'.padStart(8)}`,
    fmtRow('TOTAL', a.busyUs / ra, b.busyUs / rb),
    ...shown.map((r) => fmtRow(r.name, r.a, r.b)),
  ].join('\n');
}

if (require.main === module) {
  const args = process.argv.slice(2);
  let out: string;
  if (args[0] === '--diff' && args[1] && args[2]) out = diff(args[1], args[2], args[3] ? Number(args[3]) : 25);
  else if (args[0] && args[0] !== '--diff') out = summarize(args[0], args[1] ? Number(args[1]) : 25);
  else {
    process.stderr.write('usage: bench/profile.ts <file.cpuprofile> [top] | --diff <a.cpuprofile> <b.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${out}\n`);
}
