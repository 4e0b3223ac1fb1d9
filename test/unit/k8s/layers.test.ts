// src/k8s/ is the generic Kubernetes layer: it must be liftable into a package of its own, so
// nothing in it may import the operator's domain (api/, site/, tiers/, controller/, ...).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const k8sDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src/k8s');

test('src/k8s imports only itself, node: built-ins and npm packages', () => {
  const outside: string[] = [];
  for (const file of readdirSync(k8sDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(k8sDir, file), 'utf8');
    for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g)) {
      const spec = m[1] ?? m[2] ?? '';
      if (!spec.startsWith('.')) continue;
      const target = relative(k8sDir, resolve(dirname(join(k8sDir, file)), spec));
      if (target.startsWith('..')) outside.push(`${file} -> ${spec}`);
    }
  }
  expect(outside).toEqual([]);
});
