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
