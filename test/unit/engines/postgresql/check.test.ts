import { describe, expect, test } from 'vitest';
import { postgresqlEngine } from '../../../../src/engines/postgresql/engine.ts';
import { jobUser, servicePort, slotPrefix } from '../../../../src/engines/postgresql/settings.ts';
import type { EngineContext } from '../../../../src/engines/engine.ts';
import { context, fakeIO } from '../../../postgres/site.ts';

function withContainer(ctx: EngineContext, patch: Record<string, unknown>): EngineContext {
  const primary = structuredClone(ctx.primary);
  const c = primary.spec!.template.spec!.containers[0]!;
  Object.assign(c, patch);
  return { ...ctx, primary };
}

describe('PostgreSQL engine check()', () => {
  test('a well-formed site has no problems', async () => {
    expect(await postgresqlEngine.check(context({}), fakeIO())).toEqual([]);
  });

  test('a named container that does not exist', async () => {
    const ctx = context({});
    ctx.site.spec.engine.postgresql!.container = 'db';
    expect(await postgresqlEngine.check(ctx, fakeIO())).toEqual([
      'container db (spec.engine.postgresql.container) is not in the pod template of StatefulSet orders-db; its containers: postgres',
    ]);
  });

  test('a data directory on no volume, and PGDATA that disagrees', async () => {
    const ctx = withContainer(context({}), { volumeMounts: [{ name: 'data', mountPath: '/data' }], env: [{ name: 'PGDATA', value: '/data/pg' }] });
    expect(await postgresqlEngine.check(ctx, fakeIO())).toEqual([
      'the data directory /var/lib/postgresql/data/pgdata (spec.engine.postgresql.dataDirectory) is on no volume mount of container postgres in StatefulSet orders-db; the engine copies data between volumes',
      'container postgres sets PGDATA=/data/pg but spec.engine.postgresql.dataDirectory is /var/lib/postgresql/data/pgdata; make them the same',
    ]);
  });

  test('warm method engine needs the data on a PersistentVolumeClaim', async () => {
    const ctx = withContainer(context({ tier: 'warm' }), {
      volumeMounts: [{ name: 'scratch', mountPath: '/var/lib/postgresql/data' }],
    });
    expect(await postgresqlEngine.check(ctx, fakeIO())).toEqual([
      'the data directory /var/lib/postgresql/data/pgdata is on volume scratch, which is not a PersistentVolumeClaim of StatefulSet orders-db; method engine copies into standby PVCs',
    ]);
  });

  test('a Deployment standby cannot have more than one replica', async () => {
    expect(await postgresqlEngine.check(context({ kind: 'Deployment', replicas: 1 }), fakeIO())).toEqual([]);
    expect(await postgresqlEngine.check(context({ kind: 'Deployment', replicas: 2 }), fakeIO())).toEqual([
      'hot.replicas is 2, but the standby of Deployment orders-db is a Deployment whose pods share one data volume; use 1 (or a StatefulSet primary for more replicas)',
    ]);
  });
});

describe('PostgreSQL engine settings', () => {
  test('slot names are valid PostgreSQL slot names', () => {
    expect(slotPrefix('orders-db.eu')).toBe('standby_orders_db_eu');
    expect(slotPrefix('x'.repeat(40)).length).toBeLessThanOrEqual(56);
  });

  test('the Service port that leads to the server port', () => {
    const svc = (targetPort: number | string | undefined) => ({ spec: { ports: [{ port: 6543, ...(targetPort !== undefined ? { targetPort } : {}) }] } });
    const container = { name: 'pg', ports: [{ name: 'pg', containerPort: 5432 }] };
    expect(servicePort(svc(5432), container, 5432)).toBe(6543);
    expect(servicePort(svc('pg'), container, 5432)).toBe(6543);
    expect(servicePort(svc('5432'), container, 5432)).toBe(6543);
    expect(servicePort(svc(9999), container, 5432)).toBe(5432);
    expect(servicePort(undefined, container, 5432)).toBe(5432);
  });

  test('Jobs run as the postgres user of the image unless the pod says otherwise', () => {
    expect(jobUser({}, { name: 'pg', image: 'postgres:17' })).toEqual({ uid: 999, gid: 999, fsGroup: 999 });
    expect(jobUser({}, { name: 'pg', image: 'postgres:17-alpine' })).toEqual({ uid: 70, gid: 70, fsGroup: 70 });
    expect(jobUser({ spec: { containers: [], securityContext: { runAsUser: 1001, fsGroup: 1001 } } }, { name: 'pg', securityContext: { runAsUser: 0 } })).toEqual({
      uid: 1001,
      gid: 1001,
      fsGroup: 1001,
    });
  });
});
