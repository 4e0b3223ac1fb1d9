import { describe, expect, test } from 'vitest';
import { validateSpec } from '../../../../src/api/site.ts';

const cold = (postgresql: Record<string, unknown>) => ({
  tier: 'cold',
  primary: { workload: { kind: 'StatefulSet', name: 'orders-db' }, service: 'orders-db' },
  engine: { type: 'postgresql', postgresql: { replicationSecret: 'orders-db-repl', ...postgresql } },
  cold: { schedule: '0 2 * * *', method: 'engine' },
});

describe('engine.postgresql in the spec', () => {
  test('defaults', () => {
    const v = validateSpec(cold({}));
    expect(v.ok && v.spec.engine.postgresql).toEqual({
      replicationSecret: 'orders-db-repl',
      port: 5432,
      dataDirectory: '/var/lib/postgresql/data/pgdata',
      synchronous: false,
      database: 'postgres',
    });
  });

  test('dumpVolume takes a Kubernetes storage size and a StorageClass name', () => {
    expect(validateSpec(cold({ dumpVolume: { size: '50Gi', storageClassName: 'fast' } })).ok).toBe(true);
    const bad = validateSpec(cold({ dumpVolume: { size: '50 gigs' } }));
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.problems).toEqual([
      { field: 'spec.engine.postgresql.dumpVolume.size', message: '"50 gigs" is not a storage size; write it as Kubernetes does, e.g. 20Gi or 500Mi' },
    ]);
  });
});
