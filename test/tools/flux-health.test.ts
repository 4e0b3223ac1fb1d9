// The Flux healthCheckExprs of integrations/flux/kustomization.yaml, evaluated by Flux's own code
// (fluxcd/pkg/runtime/cel's StatusEvaluator, and kstatus from fluxcd/cli-utils for Flux without
// them; test/tools/go/fluxhealth) over the StandbySites of the Argo CD testdata: objects the real
// operator produced, and synthetic ones with the kstatus conditions.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { repoRoot, run } from '../cluster/common.ts';
import { HEALTH_DIR } from './support/argocd-health.ts';
import { goTool } from './support/go-tools.ts';

interface Judged { name: string; exprs: string; kstatus: string; kstatusMessage: string; error?: string }

/** What Flux makes of each object: with the example's expressions, and with kstatus alone. */
const EXPECTED: Record<string, { exprs: string; kstatus: string }> = {
  'e2e-protected.yaml': { exprs: 'Current', kstatus: 'Current' },
  'e2e-first-copy-pending.yaml': { exprs: 'InProgress', kstatus: 'InProgress' },
  'e2e-promoting.yaml': { exprs: 'InProgress', kstatus: 'InProgress' },
  'e2e-generation-not-observed.yaml': { exprs: 'InProgress', kstatus: 'InProgress' },
  'e2e-promoted.yaml': { exprs: 'InProgress', kstatus: 'InProgress' },
  // kstatus knows nothing of FencingHolds: a primary taking writes again is only "in progress".
  'e2e-fenced-primary-returned.yaml': { exprs: 'Failed', kstatus: 'InProgress' },
  'kstatus-protected.yaml': { exprs: 'Current', kstatus: 'Current' },
  'kstatus-reconciling.yaml': { exprs: 'InProgress', kstatus: 'InProgress' },
  'kstatus-reprotecting.yaml': { exprs: 'InProgress', kstatus: 'InProgress' },
  'kstatus-stalled.yaml': { exprs: 'Failed', kstatus: 'Failed' },
  'kstatus-not-ready.yaml': { exprs: 'InProgress', kstatus: 'InProgress' },
  'phase-renamed.yaml': { exprs: 'Current', kstatus: 'Current' },
  // kstatus does not compare the Ready condition's observedGeneration with the spec's.
  'stale-ready-condition.yaml': { exprs: 'InProgress', kstatus: 'Current' },
};

let judged: Judged[] = [];

beforeAll(async () => {
  const bin = await goTool('fluxhealth');
  const ks = parse(await readFile(join(repoRoot, 'integrations/flux/kustomization.yaml'), 'utf8')) as { spec: { healthCheckExprs: unknown[] } };
  const objects = [];
  for (const f of (await readdir(join(HEALTH_DIR, 'testdata'))).sort()) {
    const o = parse(await readFile(join(HEALTH_DIR, 'testdata', f), 'utf8')) as { metadata: { name: string } };
    o.metadata.name = f;
    objects.push(o);
  }
  const res = await run(bin, [], { input: JSON.stringify({ healthCheckExprs: ks.spec.healthCheckExprs, objects }), timeoutMs: 60_000 });
  expect(res.code, res.stderr).toBe(0);
  judged = res.stdout.trim().split('\n').map((l) => JSON.parse(l) as Judged);
}, 1_500_000);

describe("Flux's health of StandbySites", () => {
  test.each(Object.entries(EXPECTED))('%s', (name, want) => {
    const j = judged.find((x) => x.name === name);
    expect(j, name).toBeDefined();
    expect(j!.error, name).toBeUndefined();
    expect({ exprs: j!.exprs, kstatus: j!.kstatus }).toEqual(want);
  });

  test('before the operator wrote any status the expressions cannot be evaluated (Flux keeps waiting), while kstatus calls it Current', () => {
    const j = judged.find((x) => x.name === 'no-status.yaml')!;
    expect(j.error).toContain('no such attribute(s): status.conditions');
    expect(j.kstatus).toBe('Current');
    expect(judged).toHaveLength(Object.keys(EXPECTED).length + 1);
  });
});
