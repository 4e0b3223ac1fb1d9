import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { describeProblems, validateSpec } from '../../../src/api/site.ts';

interface Doc {
  kind?: string;
  metadata?: { name?: string };
  spec?: Record<string, unknown>;
}

const files = (await readdir('examples', { recursive: true })).filter((f) => f.endsWith('.yaml'));

describe('examples/', () => {
  test('has one StandbySite per tier', async () => {
    const tiers = new Set<unknown>();
    for (const f of files) {
      for (const d of parseAllDocuments(await readFile(`examples/${f}`, 'utf8'))) {
        const doc = d.toJS() as Doc;
        if (doc.kind === 'StandbySite') tiers.add(doc.spec?.tier);
      }
    }
    expect([...tiers].sort()).toEqual(['cold', 'hot', 'warm']);
  });

  test.each(files)('%s: the StandbySite is valid and its primary workload and Service are in the file', async (f) => {
    const docs = parseAllDocuments(await readFile(`examples/${f}`, 'utf8')).map((d) => d.toJS() as Doc);
    const sites = docs.filter((d) => d.kind === 'StandbySite');
    expect(sites.length).toBeGreaterThan(0);
    for (const site of sites) {
      const result = validateSpec(site.spec, site.metadata?.name);
      expect(result.ok, result.ok ? '' : describeProblems(result.problems)).toBe(true);
      if (!result.ok) continue;
      const { workload, service } = result.spec.primary;
      expect(docs.some((d) => d.kind === workload.kind && d.metadata?.name === workload.name)).toBe(true);
      expect(docs.some((d) => d.kind === 'Service' && d.metadata?.name === service)).toBe(true);
    }
  });
});
