// Status that real clients judge: `kubectl wait --for=condition=Ready` returns for a protected
// site, and the kstatus rules of sigs.k8s.io/cli-utils (what Flux and kpt use) call it Current.
// kstatusOf (test/kstatus) is the harness for the other e2e files' phases, too.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { apply, createNamespace, deleteNamespace, kubectl } from '../cluster/helpers.ts';
import { kstatusBinary, kstatusOf } from '../kstatus/kstatus.ts';
import { condition, getSite, installCrd, startOperator, statefulPrimary, type OperatorProcess } from './support/operator.ts';

let op: OperatorProcess;
let ns = '';

beforeAll(async () => {
  await kstatusBinary();
  await installCrd();
  ns = await createNamespace('kstatus');
  op = await startOperator({ namespaces: [ns], name: 'kstatus' });
});

afterAll(async () => {
  const code = await op.stop();
  expect(code, `operator exit code (log: ${op.logFile})`).toBe(0);
  if (ns) await deleteNamespace(ns);
});

test('kubectl wait --for=condition=Ready returns for a protected hot site, which kstatus calls Current', async () => {
  await apply(statefulPrimary('db'), ns);
  await apply(
    `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: db}
spec:
  tier: hot
  primary: {workload: {kind: StatefulSet, name: db}, service: db}
`,
    ns,
  );
  // kubectl waits for the condition itself (the site has no status at first); the timeout is a bound, not a measurement.
  const out = await kubectl(['-n', ns, 'wait', '--for=condition=Ready', 'standbysite/db', '--timeout=120s'], { timeoutMs: 130_000 });
  expect(out.trim()).toBe('standbysite.standby.dev/db condition met');

  const site = await getSite(ns, 'db');
  expect(site.status?.phase).toBe('Protected');
  expect(condition(site, 'Ready')).toMatchObject({ status: 'True', observedGeneration: site.metadata.generation });
  expect(await kstatusOf(site)).toEqual({ status: 'Current', message: 'Resource is Ready' });
});
