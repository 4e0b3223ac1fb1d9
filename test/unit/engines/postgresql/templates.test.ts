// The engine's pod templates and owned objects: what runs where, with which
// credentials and volumes, and that every script is the pure function's output
// for the site's options (the functions test/postgres runs against servers).
import { describe, expect, test } from 'vitest';
import { registerBuiltinEngines } from '../../../../src/engines/builtin.ts';
import { postgresqlEngine } from '../../../../src/engines/postgresql/engine.ts';
import { standbyBootstrapScript } from '../../../../src/engines/postgresql/script-bootstrap.ts';
import { dumpScript } from '../../../../src/engines/postgresql/script-dump.ts';
import { promoteScript } from '../../../../src/engines/postgresql/script-promote.ts';
import { restoreScript } from '../../../../src/engines/postgresql/script-restore.ts';
import { warmCopyScript } from '../../../../src/engines/postgresql/script-warm-copy.ts';
import { bootstrapOptions, DUMP_MOUNT, dumpOptions, promoteOptions, restoreOptions, warmCopyOptions } from '../../../../src/engines/postgresql/script-options.ts';
import { engineFor } from '../../../../src/engines/registry.ts';
import { desiredObjects as buildDesired } from '../../../../src/tiers/desired.ts';
import { standbyPodTemplate } from '../../../../src/tiers/standby-workload.ts';
import { context } from '../../../postgres/site.ts';
import { allValidated } from '../../support/models.ts';

/** Every object the builders return, checked against the Kubernetes schema of its kind. */
const desiredObjects = (c: Parameters<typeof buildDesired>[0]) => allValidated(buildDesired(c));

const secretRef = (env: string, name: string, key: string) => ({ name: env, valueFrom: { secretKeyRef: { name, key } } });

describe('PostgreSQL engine templates', () => {
  test('is registered as a built-in engine and measures lag', () => {
    registerBuiltinEngines();
    expect(engineFor({ type: 'postgresql' })).toBe(postgresqlEngine);
    expect(postgresqlEngine.measuresLag).toBe(true);
  });

  test('hot: the standby gets a bootstrap init container after the user’s own, running the bootstrap script', () => {
    const ctx = context({ port: 5432, synchronous: true });
    const base = standbyPodTemplate('orders-db', ctx.primary, ctx.primaryService);
    base.spec!.initContainers = [{ name: 'permissions', image: 'busybox' }];
    const t = postgresqlEngine.standbyTemplate(ctx, base);
    const [user, init] = t.spec!.initContainers!;
    expect(user!.name).toBe('permissions');
    expect(init!.name).toBe('standby-bootstrap');
    expect(init!.image).toBe('postgres:17.6');
    expect(init!.volumeMounts).toEqual([{ name: 'data', mountPath: '/var/lib/postgresql/data' }]);
    expect(init!.env).toEqual([
      secretRef('PGUSER', 'orders-db-repl', 'username'),
      secretRef('PGPASSWORD', 'orders-db-repl', 'password'),
      secretRef('PG_SUPERUSER', 'orders-db-super', 'username'),
      secretRef('PG_SUPERUSER_PASSWORD', 'orders-db-super', 'password'),
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ]);
    expect(init!.command).toEqual(['/bin/sh', '-c', standbyBootstrapScript(bootstrapOptions(ctx))]);
    expect(bootstrapOptions(ctx)).toEqual({
      // The Service's named targetPort leads to the container port 5432.
      primary: { host: 'orders-db.shop.svc', port: 5432, database: 'postgres' },
      dataDirectory: '/var/lib/postgresql/data/pgdata',
      slotPrefix: 'standby_orders_db',
      ordinalFromPodName: true,
      synchronous: { enabled: true, value: 'FIRST 1 ("standby_orders_db_0")' },
    });
    // The main container is untouched; applying twice does not add a second init container.
    expect(t.spec!.containers).toEqual(base.spec!.containers);
    expect(postgresqlEngine.standbyTemplate(ctx, t).spec!.initContainers).toHaveLength(2);
  });

  test('warm and cold standbys start on their copy as they are', () => {
    for (const tier of ['warm', 'cold'] as const) {
      const ctx = context({ tier });
      const base = standbyPodTemplate('orders-db', ctx.primary, ctx.primaryService);
      expect(postgresqlEngine.standbyTemplate(ctx, base)).toBe(base);
    }
  });

  test('warm: the copy Job runs the verified base backup as the image’s postgres user, into the data volume only', () => {
    const ctx = context({ tier: 'warm' });
    const t = postgresqlEngine.copyTemplate(ctx)!;
    const c = t.spec!.containers[0]!;
    expect(c.command).toEqual(['/bin/sh', '-c', warmCopyScript(warmCopyOptions(ctx))]);
    expect(c.env).toEqual([secretRef('PGUSER', 'orders-db-repl', 'username'), secretRef('PGPASSWORD', 'orders-db-repl', 'password')]);
    expect(c.volumeMounts).toEqual([{ name: 'data', mountPath: '/var/lib/postgresql/data' }]);
    expect(t.spec!.volumes).toEqual([]);
    expect(t.spec!.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, fsGroup: 999 });
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(t.spec!.automountServiceAccountToken).toBe(false);
  });

  test('cold: the dump Job writes to the dump PVC with the superuser; the restore Job reads it into the data volume', () => {
    const ctx = context({ tier: 'cold' });
    const dump = postgresqlEngine.dumpTemplate(ctx)!;
    const d = dump.spec!.containers[0]!;
    expect(d.command).toEqual(['/bin/sh', '-c', dumpScript(dumpOptions(ctx))]);
    expect(dumpOptions(ctx).retention).toEqual({ keepLast: 3, maxAgeSeconds: 720 * 3600 });
    expect(d.env).toEqual([secretRef('PGUSER', 'orders-db-super', 'username'), secretRef('PGPASSWORD', 'orders-db-super', 'password')]);
    expect(d.volumeMounts).toEqual([{ name: 'standby-operator-dumps', mountPath: DUMP_MOUNT }]);
    expect(dump.spec!.volumes).toEqual([{ name: 'standby-operator-dumps', persistentVolumeClaim: { claimName: 'orders-db-dumps' } }]);

    const restore = postgresqlEngine.restoreTemplate(ctx)!;
    const r = restore.spec!.containers[0]!;
    expect(r.command).toEqual(['/bin/sh', '-c', restoreScript(restoreOptions(ctx))]);
    expect(r.env).toEqual([]);
    expect(r.volumeMounts).toEqual([
      { name: 'standby-operator-dumps', mountPath: DUMP_MOUNT, readOnly: true },
      { name: 'data', mountPath: '/var/lib/postgresql/data' },
    ]);
  });

  test('hot: the promote Job promotes replica 0 by its DNS name with the superuser; other tiers have none', () => {
    const ctx = context({});
    const t = postgresqlEngine.promoteTemplate(ctx)!;
    const c = t.spec!.containers[0]!;
    expect(c.command).toEqual(['/bin/sh', '-c', promoteScript(promoteOptions(ctx))]);
    expect(promoteOptions(ctx)).toEqual({
      standby: { host: 'orders-db-standby-0.orders-db-standby.shop.svc', port: 5432, database: 'postgres' },
      timeoutSeconds: 300,
    });
    expect(c.env).toEqual([secretRef('PGUSER', 'orders-db-super', 'username'), secretRef('PGPASSWORD', 'orders-db-super', 'password')]);
    expect(postgresqlEngine.promoteTemplate(context({ tier: 'warm' }))).toBeUndefined();
  });

  test('a Deployment primary: one replica (slot _0), promoted through the Service name', () => {
    const ctx = context({ kind: 'Deployment' });
    expect(bootstrapOptions(ctx).ordinalFromPodName).toBe(false);
    expect(promoteOptions(ctx).standby.host).toBe('orders-db-standby.shop.svc');
  });

  test('without superuserSecret, the replication Secret is used for superuser work', () => {
    const ctx = context({ superuserSecret: false });
    const c = postgresqlEngine.promoteTemplate(ctx)!.spec!.containers[0]!;
    expect(c.env).toEqual([secretRef('PGUSER', 'orders-db-repl', 'username'), secretRef('PGPASSWORD', 'orders-db-repl', 'password')]);
  });

  test('owned objects: the standby’s headless Service (hot) and the dump PVC (cold, method engine)', () => {
    expect(postgresqlEngine.objects!(context({}))).toEqual([
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: {
          name: 'orders-db-standby',
          namespace: 'shop',
          labels: { 'app.kubernetes.io/managed-by': 'standby-operator', 'standby.dev/site': 'orders-db', 'standby.dev/role': 'standby' },
          // Every object the operator makes names the site it was made for (site/ownership.ts).
          annotations: { 'standby.dev/site-uid': 'uid-1' },
          ownerReferences: [{ apiVersion: 'standby.dev/v1alpha1', kind: 'StandbySite', name: 'orders-db', uid: 'uid-1', controller: true, blockOwnerDeletion: true }],
        },
        spec: {
          clusterIP: 'None',
          selector: { 'standby.dev/site': 'orders-db', 'standby.dev/role': 'standby' },
          publishNotReadyAddresses: true,
          ports: [{ name: 'postgresql', port: 5432, targetPort: 5432, protocol: 'TCP' }],
        },
      },
    ]);
    const [pvc] = postgresqlEngine.objects!(context({ tier: 'cold' }));
    expect(pvc).toMatchObject({
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'orders-db-dumps', labels: { 'standby.dev/role': 'dumps' } },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '20Gi' } } },
    });
    // Retained with the site's snapshots by default: no owner reference.
    expect(pvc!.metadata!.ownerReferences).toBeUndefined();
    expect(postgresqlEngine.objects!(context({ tier: 'warm' }))).toEqual([]);
  });
});

describe('the engine hook in the tiers', () => {
  test('desiredObjects includes what the engine owns, next to the tier’s objects', () => {
    const ctx = context({});
    const desired = desiredObjects({ ...ctx, primaryClaims: new Map(), engine: postgresqlEngine, active: 'primary', promotion: undefined, copyClaims: undefined });
    const kinds = desired.map((o) => `${o.kind ?? ''}/${o.metadata?.name ?? ''}`);
    expect(kinds).toContain('StatefulSet/orders-db-standby');
    expect(kinds).toContain('Service/orders-db-standby');
    const sts = desired.find((o) => o.kind === 'StatefulSet') as { spec: { serviceName: string; template: { spec: { initContainers: { name: string }[] } } } };
    expect(sts.spec.serviceName).toBe('orders-db-standby');
    expect(sts.spec.template.spec.initContainers.map((c) => c.name)).toEqual(['standby-bootstrap']);
  });
});
