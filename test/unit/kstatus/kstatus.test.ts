// kstatusOf (test/kstatus): the real kstatus rules of sigs.k8s.io/cli-utils, built with Go, over
// hand-written StandbySite statuses. The e2e tests use the same function on sites the operator
// wrote; this shows what each verdict takes.
import { beforeAll, describe, expect, test } from 'vitest';
import { kstatusBinary, kstatusOf } from '../../kstatus/kstatus.ts';

type Condition = { type: string; status: 'True' | 'False' | 'Unknown'; reason?: string; message?: string };

function site(status: { observedGeneration?: number; conditions?: Condition[] }, metadata: Record<string, unknown> = {}) {
  return {
    apiVersion: 'standby.dev/v1alpha1',
    kind: 'StandbySite',
    metadata: { name: 'orders', namespace: 'shop', generation: 3, ...metadata },
    spec: { tier: 'hot' },
    status,
  };
}

const at = (c: Omit<Condition, 'reason' | 'message'> & Partial<Condition>): Condition & { observedGeneration: number; lastTransitionTime: string } => ({
  reason: 'Test',
  message: `${c.type} is ${c.status}`,
  observedGeneration: 3,
  lastTransitionTime: '2026-01-01T00:00:00Z',
  ...c,
});

// Building the checker the first time downloads cli-utils and compiles it.
beforeAll(async () => {
  await kstatusBinary();
}, 600_000);

describe('kstatus over StandbySite statuses', () => {
  test('Ready True and the current generation observed: Current', async () => {
    expect(await kstatusOf(site({ observedGeneration: 3, conditions: [at({ type: 'Ready', status: 'True' })] }))).toEqual({
      status: 'Current',
      message: 'Resource is Ready',
    });
  });

  test('Reconciling True: InProgress, with its message', async () => {
    const v = await kstatusOf(
      site({
        observedGeneration: 3,
        conditions: [at({ type: 'Ready', status: 'False' }), at({ type: 'Reconciling', status: 'True', message: 'promotion in progress: Fencing' })],
      }),
    );
    expect(v).toEqual({ status: 'InProgress', message: 'promotion in progress: Fencing' });
  });

  test('Stalled True: Failed, with its message', async () => {
    const v = await kstatusOf(
      site({
        observedGeneration: 3,
        conditions: [at({ type: 'Ready', status: 'False' }), at({ type: 'Stalled', status: 'True', message: 'StatefulSet db does not exist' })],
      }),
    );
    expect(v).toEqual({ status: 'Failed', message: 'StatefulSet db does not exist' });
  });

  test('an older observedGeneration: InProgress, even with Ready True', async () => {
    const v = await kstatusOf(site({ observedGeneration: 2, conditions: [at({ type: 'Ready', status: 'True' })] }));
    expect(v.status).toBe('InProgress');
    expect(v.message).toBe('StandbySite generation is 3, but latest observed generation is 2');
  });

  test('Ready False with neither Reconciling nor Stalled: InProgress (so nothing-will-improve needs Stalled)', async () => {
    expect((await kstatusOf(site({ observedGeneration: 3, conditions: [at({ type: 'Ready', status: 'False' })] }))).status).toBe('InProgress');
  });

  test('a deletionTimestamp: Terminating', async () => {
    const v = await kstatusOf(site({ observedGeneration: 3, conditions: [at({ type: 'Ready', status: 'True' })] }, { deletionTimestamp: '2026-01-01T00:00:00Z' }));
    expect(v.status).toBe('Terminating');
  });

  test('JSON text is taken as is; what is not an object is an error', async () => {
    expect((await kstatusOf(JSON.stringify(site({ observedGeneration: 3, conditions: [at({ type: 'Ready', status: 'True' })] })))).status).toBe('Current');
    await expect(kstatusOf('not json')).rejects.toThrow(/kstatus failed \(exit 2\): kstatus: stdin is not a Kubernetes object in JSON/);
  });
});
