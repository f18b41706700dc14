import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/*
 * Every ```ts block of README.md is type-checked against lib/ (so a renamed option or a wrong
 * signature in the README fails `npm test`), each as its own module, all in one ts.Program.
 *
 * A block must be a complete module: it imports what it uses. A block that shows a fragment of an
 * app (a route on an `app` set up elsewhere) names the variables it takes from its surroundings in
 * an HTML comment on the line right before its fence, which GitHub does not render:
 *
 *     <!-- snippet: uses app, redis -->
 *     ```ts
 *     app.get('/x', ...);
 *
 * Each name must be one of AMBIENT below, which declares its type; an unknown name fails the test,
 * and so does a `<!-- snippet` comment of another form (a typo must not quietly check nothing).
 * Nothing else is ever added to a block, so what the reader sees is what is checked.
 *
 * Options are tsconfig.json's (strict, node16, the `passport-fractal-id` paths to lib/), except:
 * - blocks are ES modules (`.mts`), so that the top-level `await` of short examples is allowed;
 * - noUnusedLocals/noUnusedParameters are off: a block may show a value to the reader
 *   (`const totals = await ...`) without using it;
 * - only @types/node is global (not jest's).
 */

/**
 * Variables a fragment may take from its surroundings (`<!-- snippet: uses ... -->`), typed as the
 * README's other sections create them.
 */
const AMBIENT: Record<string, string> = {
  app: "declare const app: import('express').Express;",
  passport: "declare const passport: import('passport').PassportStatic;",
  redis: "declare const redis: import('ioredis').Redis;",
  vault: "declare const vault: import('passport-fractal-id').FractalVault;",
  kyc: "declare const kyc: import('passport-fractal-id').FractalKyc;",
  store: "declare const store: import('passport-fractal-id').WebhookStore;",
  profile: "declare const profile: import('passport-fractal-id').FractalProfile;",
  options: "declare const options: Omit<import('passport-fractal-id').CreateFractalOptions, 'agents'>;",
  clientID: 'declare const clientID: string;',
  clientSecret: 'declare const clientSecret: string;',
  callbackURL: 'declare const callbackURL: string;',
  verify: "declare const verify: import('passport-fractal-id').FractalVerify;",
  handler: "declare const handler: import('express').RequestHandler;",
  isApproved: 'declare function isApproved(userId: string): Promise<boolean>;',
  userAccessToken: 'declare const userAccessToken: string;',
  authorizeUrl: 'declare const authorizeUrl: string;',
  uid: 'declare const uid: string;',
};

/**
 * Apps' own dependencies that the README uses and this package does not depend on (so they are not
 * installed here, and adding them only for this check would be a dependency for nothing). Only what
 * the snippets touch, with the signatures of the real packages: @opentelemetry/api 1.x
 * (`metrics.getMeter`, `Counter.add`, `Histogram.record`) and https-proxy-agent 7 (an agent-base
 * `Agent`, which is an `http.Agent` whose `options` are connect and TLS options).
 */
const DECLARED_MODULES = `
declare module '@opentelemetry/api' {
  export type AttributeValue = string | number | boolean | Array<null | undefined | string> | Array<null | undefined | number> | Array<null | undefined | boolean>;
  export interface Attributes { [attributeKey: string]: AttributeValue | undefined }
  export interface MetricOptions { description?: string; unit?: string; valueType?: number }
  export interface Counter<A extends Attributes = Attributes> { add(value: number, attributes?: A): void }
  export interface Histogram<A extends Attributes = Attributes> { record(value: number, attributes?: A): void }
  export interface Meter {
    createCounter<A extends Attributes = Attributes>(name: string, options?: MetricOptions): Counter<A>;
    createHistogram<A extends Attributes = Attributes>(name: string, options?: MetricOptions): Histogram<A>;
  }
  export interface MeterOptions { schemaUrl?: string }
  export const metrics: { getMeter(name: string, version?: string, options?: MeterOptions): Meter };
}
declare module 'https-proxy-agent' {
  import type * as http from 'node:http';
  import type * as net from 'node:net';
  import type * as tls from 'node:tls';
  export class HttpsProxyAgent<Uri extends string> extends http.Agent {
    constructor(proxy: Uri | URL, opts?: http.AgentOptions & { headers?: http.OutgoingHttpHeaders });
    options: Partial<net.TcpNetConnectOpts & tls.ConnectionOptions>;
    keepAlive: boolean;
    readonly proxy: URL;
  }
}
`;

const ROOT = join(__dirname, '..');
const README = join(ROOT, 'README.md');

interface Snippet {
  /** 1-based README line of the block's first code line. */
  line: number;
  code: string;
  uses: string[];
}

function readmeSnippets(markdown: string): Snippet[] {
  const lines = markdown.split('\n');
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith('```'));
    if (end < 0) throw new Error(`README.md:${i + 1}: unterminated code block`);
    const before = lines[i - 1] ?? '';
    const marker = /^<!--\s*snippet:\s*uses\s+(.*?)\s*-->$/.exec(before);
    if (!marker && before.startsWith('<!-- snippet')) throw new Error(`README.md:${i}: expected <!-- snippet: uses name, name -->, got ${before}`);
    const uses = marker ? marker[1]!.split(/\s*,\s*/) : [];
    snippets.push({ line: i + 2, code: lines.slice(i + 1, end).join('\n'), uses });
    i = end;
  }
  return snippets;
}

function snippetPath(s: Snippet): string {
  return join(ROOT, 'readme-snippets', `line-${s.line}.mts`);
}

/** The text checked for a snippet: its ambient declarations on one line, then the block as is. */
function moduleText(s: Snippet): string {
  const prelude = s.uses.map((name) => AMBIENT[name] ?? '').join(' ');
  // `export {}` keeps a block without imports a module, so blocks never share globals.
  return `${prelude}\n${s.code}\nexport {};\n`;
}

function compilerOptions(): ts.CompilerOptions {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (!parsed) throw new Error('tsconfig.json could not be read');
  return { ...parsed.options, noUnusedLocals: false, noUnusedParameters: false, types: ['node'], noEmit: true };
}

function checkSnippets(snippets: Snippet[]): { declared: string[]; results: Map<Snippet, string[]> } {
  const options = compilerOptions();
  const declarations = join(ROOT, 'readme-snippets', 'declared-modules.d.ts');
  const texts = new Map([[declarations, DECLARED_MODULES], ...snippets.map((s) => [snippetPath(s), moduleText(s)] as const)]);
  const host = ts.createCompilerHost(options, true);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (fileName, language, ...rest) => {
    const text = texts.get(fileName);
    return text === undefined ? getSourceFile.call(host, fileName, language, ...rest) : ts.createSourceFile(fileName, text, language, true);
  };
  host.fileExists = (fileName) => texts.has(fileName) || fileExists.call(host, fileName);
  host.readFile = (fileName) => texts.get(fileName) ?? readFile.call(host, fileName);
  const program = ts.createProgram([...texts.keys()], options, host);

  const declaredFile = program.getSourceFile(declarations)!;
  const declared = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics(), ...program.getSyntacticDiagnostics(declaredFile), ...program.getSemanticDiagnostics(declaredFile)].map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  const results = new Map<Snippet, string[]>();
  for (const s of snippets) {
    const problems = s.uses.filter((name) => !(name in AMBIENT)).map((name) => `README.md:${s.line - 1}: unknown name "${name}" in <!-- snippet: uses ... --> (known: ${Object.keys(AMBIENT).join(', ')})`);
    const file = program.getSourceFile(snippetPath(s))!;
    for (const d of [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)]) {
      const at = d.start === undefined ? 0 : file.getLineAndCharacterOfPosition(d.start).line;
      // Line 0 is the prelude; line n of the module is line n - 1 of the block.
      const where = at === 0 ? `README.md:${s.line - 1} (the uses prelude)` : `README.md:${s.line + at - 1}`;
      problems.push(`${where}: TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    }
    results.set(s, problems);
  }
  return { declared, results };
}

const snippets = readmeSnippets(readFileSync(README, 'utf8'));
let checked: ReturnType<typeof checkSnippets>;
beforeAll(() => {
  checked = checkSnippets(snippets);
});

it('finds the README TypeScript blocks', () => {
  expect(snippets.length).toBeGreaterThanOrEqual(20);
});

it('the compiler options and the declared modules of apps\' dependencies are valid', () => {
  expect(checked.declared).toEqual([]);
});

it.each(snippets.map((s) => [s.line, s] as const))('README.md:%d type-checks', (_line, s) => {
  expect(checked.results.get(s)).toEqual([]);
});
