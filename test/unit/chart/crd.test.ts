// The chart ships the generated CRD in its crds/ folder (Helm installs it from there). It must be
// the generated file itself, never a hand-edited copy that drifts from the schema.
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { CRD_FILE } from '../../../src/api/crd.ts';
import { CHART_CRD_FILE, CRD_FILES } from '../../../src/cli/gen-crd.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

describe("the chart's CRD", () => {
  test('is byte for byte crds/standby.dev_standbysites.yaml (run npm run gen:crd when this fails)', async () => {
    const [generated, chartCopy] = await Promise.all([
      readFile(join(repoRoot, CRD_FILE), 'utf8'),
      readFile(join(repoRoot, CHART_CRD_FILE), 'utf8'),
    ]);
    expect(chartCopy).toBe(generated);
  });

  test('is written and checked by npm run gen:crd', () => {
    expect(CHART_CRD_FILE).toBe('charts/standby-operator/crds/standby.dev_standbysites.yaml');
    expect(CRD_FILES).toEqual([CRD_FILE, CHART_CRD_FILE]);
  });
});
