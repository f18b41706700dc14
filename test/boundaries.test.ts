import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

// lib/ is one folder per capability; each folder's index.ts is its only door. This check keeps it so:
// a file may import anything inside its own capability, and only the door of another one.

const LIB = resolve(__dirname, '..', 'lib');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Relative specifiers of static imports, re-exports and dynamic imports. */
function relativeImports(source: string): string[] {
  const found: string[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)(['"])(\.{1,2}\/[^'"]*)\1/gm;
  for (const match of source.matchAll(pattern)) found.push(match[2] as string);
  return found;
}

/** `capability/inner/path` of a lib file (without `.ts`), split. */
function partsOf(path: string): string[] {
  return relative(LIB, path).replace(/\.ts$/, '').split(sep);
}

/** Every import that crosses into another capability's inner files, as `file -> specifier`. */
function boundaryViolations(files: readonly string[], read = (file: string) => readFileSync(file, 'utf8')): string[] {
  const violations: string[] = [];
  for (const file of files) {
    const own = partsOf(file);
    const ownCapability = own.length > 1 ? own[0] : undefined;
    for (const specifier of relativeImports(read(file))) {
      const target = partsOf(resolve(dirname(file), specifier));
      if (target[0] === '..') {
        violations.push(`${relative(LIB, file)} -> ${specifier} (outside lib/)`);
        continue;
      }
      if (target[0] === ownCapability) continue;
      const isDoor = target.length === 1 || (target.length === 2 && target[1] === 'index');
      if (!isDoor) violations.push(`${relative(LIB, file)} -> ${specifier}`);
    }
  }
  return violations;
}

describe('lib/ layout', () => {
  const files = tsFiles(LIB);

  it('has no loose files at the root but index.ts', () => {
    const loose = readdirSync(LIB).filter((name) => !statSync(join(LIB, name)).isDirectory());
    expect(loose).toEqual(['index.ts']);
  });

  it('gives every capability folder an index.ts door', () => {
    const folders = readdirSync(LIB).filter((name) => statSync(join(LIB, name)).isDirectory());
    const doorless = folders.filter((name) => !readdirSync(join(LIB, name)).includes('index.ts'));
    expect(doorless).toEqual([]);
  });

  it('imports another capability only through its door', () => {
    expect(boundaryViolations(files)).toEqual([]);
  });

  it('the check itself refuses an inner import and accepts a door', () => {
    // Proof that the check can fail: a made-up file in tokens/ reaching into provider/'s inner file.
    const probe = join(LIB, 'tokens', 'probe.ts');
    const source = "import { a } from '../provider/http';\nimport { b } from '../provider';\nexport * from './store';";
    expect(boundaryViolations([probe], () => source)).toEqual(['tokens/probe.ts -> ../provider/http']);
    expect(relativeImports("import { a } from '../x/y';\nexport * from './z';\nawait import('../w');")).toEqual([
      '../x/y',
      './z',
      '../w',
    ]);
  });
});
