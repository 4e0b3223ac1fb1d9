import { describe, expect, test } from 'vitest';
import type {
  V1CronJob,
  V1Deployment,
  V1Service,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { validateSpec, type StandbySite } from '../../../src/api/site.ts';
import { genericEngine } from '../../../src/engines/generic.ts';
import type { BuildContext } from '../../../src/tiers/context.ts';
import { desiredObjects as buildDesired } from '../../../src/tiers/desired.ts';
import { matches } from '../../../src/site/workload.ts';
import { servicesSelectingBothSides } from '../../../src/tiers/standby-workload.ts';
import { allValidated } from '../support/models.ts';

/** Every object the builders return, checked against the Kubernetes schema of its kind. */
const desiredObjects = (c: BuildContext) => allValidated(buildDesired(c));

const primarySts: V1StatefulSet = {
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'orders-db', namespace: 'shop' },
  spec: {
    replicas: 1,
    serviceName: 'orders-db',
    selector: { matchLabels: { app: 'orders-db', tier: 'db' } },
    template: {
      metadata: { labels: { app: 'orders-db', tier: 'db', team: 'payments', version: 'v2' } },
      spec: { containers: [{ name: 'pg', image: 'postgres:17', env: [{ name: 'ROLE', value: 'primary' }] }] },
    },
    volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } }, storageClassName: 'fast' } }],
  },
};
const primaryService: V1Service = {
  metadata: { name: 'orders-db', namespace: 'shop' },
  spec: { selector: { app: 'orders-db', role: 'primary' }, ports: [{ name: 'pg', port: 5432, targetPort: 5432, nodePort: 30000 }] },
};

function site(spec: Record<string, unknown>): StandbySite {
  const v = validateSpec({ primary: { workload: { kind: 'StatefulSet', name: 'orders-db' }, service: 'orders-db' }, ...spec }, 'orders');
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return { metadata: { name: 'orders', namespace: 'shop', uid: 'uid-1', generation: 1 }, spec: v.spec, status: {} };
}

function ctx(s: StandbySite, over: Partial<BuildContext> = {}): BuildContext {
  return {
    site: s,
    primary: primarySts,
    primaryService,
    volumes: [{ volume: 'data', claim: 'data-orders-db-0', template: primarySts.spec!.volumeClaimTemplates![0] }],
    primaryClaims: new Map(),
    engine: genericEngine,
    operatorImage: 'example/op:1',
    active: 'primary',
    promotion: undefined,
    copyClaims: undefined,
    ...over,
  };
}

const find = <T>(objs: { kind?: string; metadata?: { name?: string } }[], kind: string, name?: string) =>
  objs.find((o) => o.kind === kind && (name === undefined || o.metadata?.name === name)) as T | undefined;

describe('hot tier', () => {
  const s = site({ tier: 'hot', hot: { replicas: 2 }, engine: { type: 'generic', generic: { standbyEnv: [{ name: 'ROLE', value: 'standby' }] } } });
  const objs = desiredObjects(ctx(s));
  const standby = find<V1StatefulSet>(objs, 'StatefulSet', 'orders-standby')!;

  test('the standby copies the pod template, with its own replicas and fresh volumes', () => {
    expect(standby.spec?.replicas).toBe(2);
    expect(standby.spec?.template.spec?.containers[0]?.image).toBe('postgres:17');
    expect(standby.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.storage).toBe('10Gi');
    expect(standby.spec?.volumeClaimTemplates?.[0]?.spec?.storageClassName).toBe('fast');
    expect(standby.spec?.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    expect(standby.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'StandbySite', name: 'orders', uid: 'uid-1', controller: true });
  });

  test("standby pods can never be selected by the primary's workload or Service", () => {
    const labels = standby.spec?.template.metadata?.labels;
    expect(matches(primarySts.spec!.selector, labels)).toBe(false);
    expect(matches({ matchLabels: primaryService.spec!.selector! }, labels)).toBe(false);
    // Labels nobody selects on are kept; selector labels are replaced by the site's own.
    expect(labels).toEqual({ team: 'payments', version: 'v2', 'standby.dev/site': 'orders', 'standby.dev/role': 'standby' });
    expect(matches(standby.spec!.selector, labels)).toBe(true);
  });

  test('the generic engine adds the standby env, replacing a same-named variable', () => {
    expect(standby.spec?.template.spec?.containers[0]?.env).toEqual([{ name: 'ROLE', value: 'standby' }]);
  });

  test('the traffic Service copies the ports and follows the active side', () => {
    const svc = find<V1Service>(objs, 'Service', 'orders-active')!;
    expect(svc.spec?.ports).toEqual([{ name: 'pg', port: 5432, protocol: 'TCP', targetPort: 5432 }]);
    expect(svc.spec?.selector).toEqual({ app: 'orders-db', role: 'primary' });
    const after = find<V1Service>(desiredObjects(ctx(s, { active: 'standby' })), 'Service', 'orders-active')!;
    expect(after.spec?.selector).toEqual({ 'standby.dev/site': 'orders', 'standby.dev/role': 'standby' });
  });

  test('no fence unless the controller asks for one; a closed fence of the primary pods has no rules', () => {
    expect(find(objs, 'NetworkPolicy')).toBeUndefined();
    const fence = find<INetworkPolicy>(desiredObjects(ctx(s, { promotion: 'Fencing', fences: { primary: 'closed' } })), 'NetworkPolicy')!;
    expect(fence.metadata?.name).toBe('orders-fence');
    expect(fence.spec?.podSelector).toEqual({ matchLabels: { app: 'orders-db', tier: 'db' } });
    expect(fence.spec?.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(fence.spec?.ingress).toBeUndefined();
    expect(find(desiredObjects(ctx(s, { promotion: 'Failed' })), 'NetworkPolicy')).toBeUndefined();
  });

  test('a narrow fence lets the fenced side reach the other side only (and DNS)', () => {
    const primary = find<INetworkPolicy>(desiredObjects(ctx(s, { promotion: 'Promoted', fences: { primary: 'narrow' } })), 'NetworkPolicy')!;
    const peer = { podSelector: { matchLabels: { 'standby.dev/site': 'orders', 'standby.dev/role': 'standby' } } };
    expect(primary.spec?.ingress).toEqual([{ from: [peer] }]);
    expect(primary.spec?.egress?.[0]).toEqual({ to: [peer] });
    expect(primary.spec?.egress?.[1]?.ports).toEqual([{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }]);
    const objsBack = desiredObjects(ctx(s, { fences: { standby: 'narrow' } }));
    const standby = objsBack.filter((o) => o.kind === 'NetworkPolicy') as INetworkPolicy[];
    expect(standby.map((f) => f.metadata?.name)).toEqual(['orders-standby-fence']);
    expect(standby[0]!.spec?.podSelector).toEqual({ matchLabels: { 'standby.dev/site': 'orders', 'standby.dev/role': 'standby' } });
    expect(standby[0]!.spec?.ingress).toEqual([{ from: [{ podSelector: { matchLabels: { app: 'orders-db', tier: 'db' } } }] }]);
  });

  test('with fencing scaleDown there is no NetworkPolicy', () => {
    const sd = site({ tier: 'hot', promotion: { fencing: 'scaleDown' } });
    expect(find(desiredObjects(ctx(sd, { promotion: 'Promoting' })), 'NetworkPolicy')).toBeUndefined();
  });

  test('a Deployment primary gets a standby Deployment with its own PVC per volume', () => {
    const dep: V1Deployment = {
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'shop' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c' }], volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'web-data' } }] } },
      },
    };
    const ds = site({ tier: 'hot', primary: { workload: { kind: 'Deployment', name: 'web' }, service: 'orders-db' } });
    const out = desiredObjects(ctx(ds, { primary: dep, volumes: [{ volume: 'data', claim: 'web-data' }] }));
    const d = find<V1Deployment>(out, 'Deployment', 'orders-standby')!;
    expect(d.spec?.strategy).toEqual({ type: 'Recreate' });
    expect(d.spec?.template.spec?.volumes).toEqual([{ name: 'data', persistentVolumeClaim: { claimName: 'orders-data-hot' } }]);
    expect(find(out, 'PersistentVolumeClaim', 'orders-data-hot')).toBeDefined();
  });
});

describe('warm tier', () => {
  const s = site({ tier: 'warm', warm: { schedule: '*/15 * * * *', timeZone: 'Europe/Berlin' } });

  test('a sync CronJob that runs the operator, one at a time, with a deadline', () => {
    const cj = find<V1CronJob>(desiredObjects(ctx(s)), 'CronJob', 'orders-sync')!;
    expect(cj.spec).toMatchObject({ schedule: '*/15 * * * *', timeZone: 'Europe/Berlin', suspend: false, concurrencyPolicy: 'Forbid' });
    expect(cj.spec?.jobTemplate.spec?.activeDeadlineSeconds).toBeGreaterThan(0);
    const c = cj.spec?.jobTemplate.spec?.template.spec?.containers[0];
    expect(c?.image).toBe('example/op:1');
    expect(c?.args).toEqual(['sync', '--site', 'shop/orders', '--image', 'example/op:1']);
    expect(cj.spec?.jobTemplate.spec?.template.spec?.serviceAccountName).toBe('orders-copier');
    expect(c?.securityContext?.readOnlyRootFilesystem).toBe(true);
  });

  test('the copy Jobs get their own least-privilege identity', () => {
    const objs = desiredObjects(ctx(s));
    expect(find(objs, 'ServiceAccount', 'orders-copier')).toBeDefined();
    expect(find(objs, 'RoleBinding', 'orders-copier')).toBeDefined();
    const role = find<{ rules: { resources: string[]; resourceNames?: string[]; verbs: string[] }[] }>(objs, 'Role', 'orders-copier')!;
    expect(role.rules.find((r) => r.resources.includes('standbysites'))).toEqual(expect.objectContaining({ resourceNames: ['orders'], verbs: ['get'] }));
  });

  test('no standby until a complete copy exists; then one at zero replicas on that copy', () => {
    expect(find(desiredObjects(ctx(s)), 'StatefulSet')).toBeUndefined();
    const sts = find<V1StatefulSet>(desiredObjects(ctx(s, { copyClaims: { data: 'orders-data-run1' } })), 'StatefulSet', 'orders-standby')!;
    expect(sts.spec?.replicas).toBe(0);
    expect(sts.spec?.volumeClaimTemplates).toBeUndefined();
    expect(sts.spec?.template.spec?.volumes).toEqual([{ name: 'data', persistentVolumeClaim: { claimName: 'orders-data-run1' } }]);
  });

  test('during a promotion the sync stops and the standby runs', () => {
    const objs = desiredObjects(ctx(s, { copyClaims: { data: 'c' }, promotion: 'Promoting' }));
    expect(find<V1CronJob>(objs, 'CronJob')?.spec?.suspend).toBe(true);
    expect(find<V1StatefulSet>(objs, 'StatefulSet')?.spec?.replicas).toBe(1);
    // While fencing, the standby must not start yet.
    expect(find<V1StatefulSet>(desiredObjects(ctx(s, { copyClaims: { data: 'c' }, promotion: 'Fencing' })), 'StatefulSet')?.spec?.replicas).toBe(0);
  });

  test('suspend in the spec suspends the CronJob', () => {
    const sus = site({ tier: 'warm', warm: { schedule: '@hourly', suspend: true } });
    expect(find<V1CronJob>(desiredObjects(ctx(sus)), 'CronJob')?.spec?.suspend).toBe(true);
  });
});

describe('cold tier', () => {
  test('volumeSnapshot: a snapshot CronJob running the operator, no standby', () => {
    const s = site({ tier: 'cold', cold: { schedule: '0 2 * * *' } });
    const objs = desiredObjects(ctx(s));
    const cj = find<V1CronJob>(objs, 'CronJob', 'orders-snapshot')!;
    expect(cj.spec?.jobTemplate.spec?.template.spec?.containers[0]?.args).toEqual(['snapshot', '--site', 'shop/orders']);
    expect(find(objs, 'StatefulSet')).toBeUndefined();
  });

  test('job: the user pod template, labelled as the site and defaulted to run once', () => {
    const s = site({
      tier: 'cold',
      cold: {
        schedule: '0 2 * * *',
        method: 'job',
        jobTemplate: { metadata: { labels: { app: 'dump' } }, spec: { containers: [{ name: 'dump', image: 'dumper:1' }] } },
        restoreJobTemplate: { spec: { containers: [{ name: 'restore', image: 'dumper:1' }] } },
      },
    });
    const pod = find<V1CronJob>(desiredObjects(ctx(s)), 'CronJob')!.spec?.jobTemplate.spec?.template;
    expect(pod?.spec?.restartPolicy).toBe('Never');
    expect(pod?.metadata?.labels).toMatchObject({ app: 'dump', 'standby.dev/site': 'orders', 'standby.dev/role': 'snapshot' });
    expect(pod?.spec?.containers[0]?.image).toBe('dumper:1');
  });

  test('after restore, the standby runs on the restored copy', () => {
    const s = site({ tier: 'cold', cold: { schedule: '0 2 * * *' } });
    const sts = find<V1StatefulSet>(desiredObjects(ctx(s, { copyClaims: { data: 'r' }, promotion: 'Promoting' })), 'StatefulSet')!;
    expect(sts.spec?.replicas).toBe(1);
  });
});

describe('traffic mode primaryService', () => {
  test('the operator owns no Service', () => {
    const s = site({ tier: 'hot', traffic: { mode: 'primaryService' } });
    expect(desiredObjects(ctx(s)).filter((o) => o.kind === 'Service')).toEqual([]);
  });
});

describe('an engine that promotes only some standby pods', () => {
  test('PostgreSQL: after promotion the traffic Service selects replica 0 only', async () => {
    const { postgresqlEngine } = await import('../../../src/engines/postgresql/engine.ts');
    const s = site({ tier: 'hot', hot: { replicas: 2 }, engine: { type: 'postgresql', postgresql: { replicationSecret: 'repl' } } });
    const before = find<V1Service>(desiredObjects(ctx(s, { engine: postgresqlEngine })), 'Service', 'orders-active')!;
    expect(before.spec?.selector).toEqual({ app: 'orders-db', role: 'primary' });
    const after = find<V1Service>(desiredObjects(ctx(s, { engine: postgresqlEngine, active: 'standby' })), 'Service', 'orders-active')!;
    expect(after.spec?.selector).toEqual({
      'standby.dev/site': 'orders',
      'standby.dev/role': 'standby',
      'statefulset.kubernetes.io/pod-name': 'orders-standby-0',
    });
  });
});

describe('the standby carries no label another Service selects on (issue 21 item 8)', () => {
  const s = site({ tier: 'hot' });

  test('keys any Service of the namespace selects on are dropped from the standby pods, the site\'s own kept', () => {
    const objs = desiredObjects(ctx(s, { avoidLabels: new Set(['team', 'standby.dev/site']) }));
    const standby = find<V1StatefulSet>(objs, 'StatefulSet', 'orders-standby')!;
    expect(standby.spec?.template.metadata?.labels).toEqual({ version: 'v2', 'standby.dev/site': 'orders', 'standby.dev/role': 'standby' });
  });

  test('a Service that selects a primary pod and a standby pod is named, with its keys', () => {
    const pod = (name: string, labels: Record<string, string>) => ({ metadata: { name, labels } });
    const svc = (name: string, selector: Record<string, string>): V1Service => ({ metadata: { name }, spec: { selector } });
    const found = servicesSelectingBothSides(
      [svc('teams', { team: 'payments' }), svc('writers', { role: 'writer' }), svc('all', {})],
      [pod('orders-db-0', { app: 'orders-db', team: 'payments', role: 'writer' })],
      [pod('orders-standby-0', { team: 'payments', 'standby.dev/site': 'orders' })],
    );
    expect(found).toEqual([{ service: 'teams', keys: ['team'] }]);
  });
});
