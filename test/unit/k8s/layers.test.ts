// Imports point down the layers (issue #11). src/k8s/ is the generic Kubernetes layer: it must be
// liftable into a package of its own, so nothing in it may import the operator's domain (api/,
// site/, tiers/, controller/, ...). The controller declares the interfaces it needs (metrics) and
// process/ implements them, so controller/ never imports process/. The copy subcommands (sync/,
// snapshot/) run in Jobs: they load no controller or process code.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const srcDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src');

interface Import {
  /** The importing file, relative to src/. */
  file: string;
  /** The imported file, relative to src/ (outside src/ starts with ..). */
  target: string;
}

/** The relative imports (type-only ones too) of one file, given relative to src/. */
function importsOfFile(file: string): Import[] {
  const text = readFileSync(join(srcDir, file), 'utf8');
  const found: Import[] = [];
  // import ... from '...', export ... from '...', import('...') and a bare import '...'.
  for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)|^import\s*'([^']+)'/gm)) {
    const spec = m[1] ?? m[2] ?? m[3] ?? '';
    if (spec.startsWith('.')) found.push({ file, target: relative(srcDir, resolve(dirname(join(srcDir, file)), spec)) });
  }
  return found;
}

/** The relative imports of every .ts file below src/<folder>. */
function importsOf(folder: string): Import[] {
  return readdirSync(join(srcDir, folder), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => importsOfFile(`${folder}/${f}`));
}

/** Every src/ file the folders' files import, directly or through others: target → the file that imports it. */
function reachableFrom(folders: readonly string[]): Map<string, string> {
  const via = new Map<string, string>();
  const queue = folders.flatMap(importsOf);
  for (let i = queue.shift(); i; i = queue.shift()) {
    if (via.has(i.target) || i.target.startsWith('..') || !existsSync(join(srcDir, i.target))) continue;
    via.set(i.target, i.file);
    queue.push(...importsOfFile(i.target));
  }
  return via;
}

const inFolder = (folders: readonly string[]) => (target: string) => folders.some((f) => target.startsWith(`${f}/`));
const shown = (i: Import) => `${i.file} -> ${i.target}`;

test('src/k8s imports only itself, node: built-ins and npm packages', () => {
  const found = importsOf('k8s');
  expect(found.length).toBeGreaterThan(0);
  expect(found.filter((i) => !i.target.startsWith('k8s/')).map(shown)).toEqual([]);
});

test('src/controller imports nothing from src/process (process implements what the controller declares)', () => {
  const found = importsOf('controller');
  expect(found.length).toBeGreaterThan(0);
  expect(found.filter((i) => inFolder(['process'])(i.target)).map(shown)).toEqual([]);
});

test('the copy subcommands (src/sync, src/snapshot) load no controller or process code, not even through other files', () => {
  const reached = reachableFrom(['sync', 'snapshot']);
  expect(reached.size).toBeGreaterThan(10);
  const wrong = [...reached].filter(([target]) => inFolder(['controller', 'process'])(target));
  expect(wrong.map(([target, file]) => shown({ file, target }))).toEqual([]);
});

/** Every import or re-export statement of an npm package in the file, whole, with the package's specifier. */
function packageStatements(file: string): { statement: string; spec: string }[] {
  const text = readFileSync(join(srcDir, file), 'utf8');
  const found: { statement: string; spec: string }[] = [];
  for (const m of text.matchAll(/^\s*((?:import|export)\b[^;'"]*?from\s*'([^'.][^']*)'|import\s*'([^'.][^']*)')/gm)) {
    found.push({ statement: m[1] ?? '', spec: m[2] ?? m[3] ?? '' });
  }
  // import('...') anywhere, in a type position too: only a whole `import type` statement is certain to be erased.
  for (const m of text.matchAll(/import\(\s*'([^'.][^']*)'\s*\)/g)) found.push({ statement: m[0], spec: m[1] ?? '' });
  return found;
}

const isModels = (spec: string) => spec === 'kubernetes-models' || spec.startsWith('kubernetes-models/') || spec.startsWith('@kubernetes-models/');

// The models' classes validate with a JSON schema each, loaded on import: the operator uses
// only their interfaces (issue #11), so it pays nothing for them at run time. `import { type X }`
// is not enough: under verbatimModuleSyntax it still loads the module (as `import {} from`).
test('src/ imports kubernetes-models only in whole `import type` statements', () => {
  const files = readdirSync(srcDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const found = files.flatMap((file) => packageStatements(file).map((s) => ({ file, ...s }))).filter((s) => isModels(s.spec));
  expect(found.length).toBeGreaterThan(0);
  const wrong = found.filter((s) => !/^(?:import|export)\s+type\s*\{/.test(s.statement));
  expect(wrong.map((s) => `${s.file}: ${s.statement.replace(/\s+/g, ' ')}`)).toEqual([]);
});
