import { describe, expect, test } from 'vitest';
import type { V1Deployment, V1Job, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { validateSpec, type StandbySite } from '../../../src/api/site.ts';
import type { CopyRun } from '../../../src/copies/inventory.ts';
import * as objects from '../../../src/drill/objects.ts';
import { drillEnv, drillNames } from '../../../src/drill/objects.ts';
import { planDrill, standbyClaims, type PlanInput } from '../../../src/drill/plan.ts';
import type { EngineContext } from '../../../src/engines/engine.ts';
import { genericEngine } from '../../../src/engines/generic.ts';
import { postgresqlEngine } from '../../../src/engines/postgresql/engine.ts';
import { BOOTSTRAP_CONTAINER } from '../../../src/engines/postgresql/templates.ts';
import { names, standbySelector } from '../../../src/site/names.ts';
import { matches, primaryVolumes } from '../../../src/site/workload.ts';
import type { SnapshotSet } from '../../../src/snapshot/sets.ts';
import { validating } from '../support/models.ts';

// Every object the builders return is checked against the Kubernetes schema of its kind.
const buildDrillJob = validating(objects.buildDrillJob);
const buildDrillPolicy = validating(objects.buildDrillPolicy);
const buildDrillSnapshot = validating(objects.buildDrillSnapshot);
const buildScratchClaim = validating(objects.buildScratchClaim);
const buildScratchWorkload = validating(objects.buildScratchWorkload);

const primary: V1StatefulSet = {
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'orders-db', namespace: 'shop' },
  spec: {
    serviceName: 'orders-db',
    selector: { matchLabels: { app: 'orders-db' } },
    template: {
      metadata: { labels: { app: 'orders-db', team: 'payments' } },
      spec: {
        containers: [{ name: 'postgres', image: 'postgres:17', volumeMounts: [{ name: 'data', mountPath: '/var/lib/postgresql/data' }] }],
      },
    },
    volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } } }],
  },
};
const primaryService: V1Service = { metadata: { name: 'orders-db', namespace: 'shop' }, spec: { selector: { app: 'orders-db' }, ports: [{ port: 5432 }] } };
const volumes = primaryVolumes(primary);

function site(spec: Record<string, unknown>, name = 'orders'): StandbySite {
  const v = validateSpec({ primary: { workload: { kind: 'StatefulSet', name: 'orders-db' }, service: 'orders-db' }, ...spec }, name);
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return { metadata: { name, namespace: 'shop', uid: 'uid-1', generation: 1 }, spec: v.spec, status: {} };
}

const ctxOf = (s: StandbySite): EngineContext => ({ site: s, tier: s.spec.tier, primary, primaryService, volumes, operatorImage: 'op:1' });

const pgEngine = { type: 'postgresql', postgresql: { replicationSecret: 'repl', superuserSecret: 'su' } };

describe('drill objects', () => {
  const s = site({ tier: 'hot', engine: { type: 'generic', generic: { standbyEnv: [{ name: 'ROLE', value: 'standby' }] } } });
  const id = 'tq9x2ab';
  const n = drillNames('orders', id);

  test('names: <site>-drill-<id>..., short enough for a StatefulSet and its Jobs at the longest site name', () => {
    expect(n.base).toBe('orders-drill-tq9x2ab');
    expect(n.volume('data')).toBe('orders-drill-tq9x2ab-data');
    const long = 'a'.repeat(40);
    const ln = drillNames(long, id);
    expect(ln.base).toBe(`${long}-dr-${id}`);
    expect(ln.base.length).toBeLessThanOrEqual(52);
    for (const job of [ln.copyJob, ln.restoreJob, ln.checkJob, ln.verifyJob]) expect(job.length).toBeLessThanOrEqual(63);
  });

  test('the scratch workload runs the standby template on the scratch claims, with labels no Service of the site selects', () => {
    const w = buildScratchWorkload({ site: s, engine: genericEngine, operatorImage: 'op:1', primary, primaryService, volumes }, id, { data: n.volume('data') }) as V1StatefulSet;
    expect(w.kind).toBe('StatefulSet');
    expect(w.metadata?.name).toBe(n.base);
    expect(w.metadata?.ownerReferences?.[0]).toMatchObject({ uid: 'uid-1', controller: true });
    expect(w.metadata?.labels).toMatchObject({ 'standby.dev/site': 'orders', 'standby.dev/role': 'drill', 'standby.dev/drill-id': id });
    expect(w.spec?.replicas).toBe(1);
    expect(w.spec?.volumeClaimTemplates).toBeUndefined();
    const labels = w.spec?.template.metadata?.labels;
    expect(labels).toEqual({
      'app.kubernetes.io/managed-by': 'standby-operator',
      'standby.dev/site': 'orders',
      'standby.dev/role': 'drill',
      'standby.dev/drill-id': id,
      'standby.dev/drill-part': 'scratch',
    });
    expect(w.spec?.selector).toEqual({ matchLabels: labels });
    // Neither the primary's Service, nor the standby's selector, nor a Service on the template's other labels.
    expect(matches({ matchLabels: primaryService.spec!.selector! }, labels)).toBe(false);
    expect(matches({ matchLabels: standbySelector('orders') }, labels)).toBe(false);
    expect(matches({ matchLabels: { team: 'payments' } }, labels)).toBe(false);
    expect(w.spec?.template.spec?.volumes).toEqual([{ name: 'data', persistentVolumeClaim: { claimName: n.volume('data') } }]);
    // The generic engine's standby env: the scratch copy runs as the standby would.
    expect(w.spec?.template.spec?.containers[0]?.env).toEqual([{ name: 'ROLE', value: 'standby' }]);
  });

  test('a PostgreSQL scratch copy never gets the hot standby bootstrap (which would copy the primary)', () => {
    const pg = site({ tier: 'hot', engine: pgEngine });
    const standby = postgresqlEngine.standbyTemplate(ctxOf(pg), primary.spec!.template);
    expect(standby.spec?.initContainers?.map((c) => c.name)).toEqual([BOOTSTRAP_CONTAINER]);
    const w = buildScratchWorkload({ site: pg, engine: postgresqlEngine, operatorImage: 'op:1', primary, primaryService, volumes }, id, { data: n.volume('data') });
    expect(w.spec?.template.spec?.initContainers ?? []).toEqual([]);
  });

  test('a Deployment primary gets a Deployment scratch workload, recreated rather than rolled', () => {
    const dep: V1Deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'orders-db', namespace: 'shop' },
      spec: { selector: primary.spec!.selector, template: { ...primary.spec!.template, spec: { ...primary.spec!.template.spec!, volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'orders-db-data' } }] } } },
    };
    const w = buildScratchWorkload({ site: s, engine: genericEngine, operatorImage: 'op:1', primary: dep, primaryService, volumes: primaryVolumes(dep) }, id, { data: n.volume('data') });
    expect(w).toMatchObject({ kind: 'Deployment', spec: { strategy: { type: 'Recreate' } } });
    expect(w.spec?.template.spec?.volumes).toEqual([{ name: 'data', persistentVolumeClaim: { claimName: n.volume('data') } }]);
  });

  test('the NetworkPolicy isolates the scratch pods but for the drill\'s own checks', () => {
    const p = buildDrillPolicy(s, id);
    expect(p.metadata?.name).toBe(n.policy);
    expect(p.spec?.podSelector).toEqual({ matchLabels: expect.objectContaining({ 'standby.dev/drill-id': id, 'standby.dev/drill-part': 'scratch' }) as unknown });
    expect(p.spec?.policyTypes).toEqual(['Ingress', 'Egress']);
    expect((p.spec as unknown as { egress?: unknown }).egress).toBeUndefined();
    expect(JSON.parse(JSON.stringify(p.spec?.ingress))).toEqual([{ from: [{ podSelector: { matchLabels: expect.objectContaining({ 'standby.dev/drill-part': 'verify' }) as unknown } }] }]);
  });

  test('snapshots and scratch claims are the drill\'s: owned by the site, no copy-run label, sized like the primary', () => {
    const snap = buildDrillSnapshot(s, id, 'data', 'data-orders-standby-0', undefined);
    expect(snap.metadata?.labels?.['standby.dev/role']).toBe('drill');
    expect(snap.metadata?.labels?.['standby.dev/copy-run']).toBeUndefined();
    expect(snap.metadata?.ownerReferences?.[0]?.uid).toBe('uid-1');
    expect(snap.spec?.source).toEqual({ persistentVolumeClaimName: 'data-orders-standby-0' });
    const pvc = buildScratchClaim(s, id, volumes[0]!, undefined, snap.metadata?.name);
    expect(pvc.metadata?.name).toBe(n.volume('data'));
    expect(pvc.metadata?.labels).toEqual({ 'app.kubernetes.io/managed-by': 'standby-operator', 'standby.dev/site': 'orders', 'standby.dev/role': 'drill', 'standby.dev/drill-id': id });
    expect(pvc.metadata?.annotations?.['standby.dev/volume']).toBeUndefined();
    expect(pvc.metadata?.ownerReferences?.[0]).toMatchObject({ uid: 'uid-1', controller: true });
    expect(pvc.spec?.resources?.requests?.storage).toBe('10Gi');
    expect(pvc.spec?.dataSource).toEqual({ apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: snap.metadata?.name });
  });

  test('check Jobs may reach the scratch pod and are told where it is; they run once', () => {
    const env = drillEnv({ site: s, id, host: '10.244.0.7', dataTime: '2026-11-22T03:00:00.000Z' });
    const job: V1Job = buildDrillJob(s, {
      name: n.verifyJob,
      id,
      part: 'verify',
      template: { spec: { containers: [{ name: 'check', image: 'busybox', env: [{ name: 'DRILL_HOST', value: 'stale' }, { name: 'X', value: '1' }] }] } },
      env,
      backoffLimit: 0,
      activeDeadlineSeconds: 600,
    });
    expect(job.metadata?.labels).toMatchObject({ 'standby.dev/role': 'drill', 'standby.dev/drill-id': id });
    expect(job.spec?.backoffLimit).toBe(0);
    expect(job.spec?.activeDeadlineSeconds).toBe(600);
    expect(job.spec?.template.metadata?.labels).toMatchObject({ 'standby.dev/drill-id': id, 'standby.dev/drill-part': 'verify' });
    expect(job.spec?.template.spec?.restartPolicy).toBe('Never');
    expect(job.spec?.template.spec?.containers[0]?.env).toEqual([
      { name: 'X', value: '1' },
      { name: 'DRILL_ID', value: id },
      { name: 'DRILL_SITE', value: 'orders' },
      { name: 'DRILL_TIER', value: 'hot' },
      { name: 'DRILL_HOST', value: '10.244.0.7' },
      { name: 'DRILL_DATA_TIME', value: '2026-11-22T03:00:00.000Z' },
    ]);
  });
});

describe('what a drill restores, per tier', () => {
  const run = (id: string, t: string, complete = true): CopyRun => ({
    run: id,
    dataTime: new Date(t),
    claims: { data: `orders-data-${id}` },
    complete,
    created: new Date(t),
    names: [`orders-data-${id}`],
  });
  const set = (id: string, t: string, ready = true): SnapshotSet => ({ run: id, time: new Date(t), snapshots: { data: `orders-data-${id}` }, ready, error: undefined, names: [] });
  const hotStandby: V1StatefulSet = { ...primary, metadata: { name: 'orders-standby', namespace: 'shop' } };
  const input = (s: StandbySite, o: Partial<PlanInput> = {}): PlanInput => ({
    spec: s.spec,
    siteName: 'orders',
    engine: s.spec.engine.type === 'postgresql' ? postgresqlEngine : genericEngine,
    engineCtx: ctxOf(s),
    volumes,
    standby: hotStandby,
    runs: [],
    sets: [],
    jobs: [],
    snapshotsInstalled: true,
    ...o,
  });

  test('hot, generic: snapshots of the standby replica 0 claims, cloned', () => {
    const s = site({ tier: 'hot' });
    expect(standbyClaims('orders', hotStandby, volumes)).toEqual({ data: `data-${names.standby('orders')}-0` });
    expect(planDrill(input(s))).toMatchObject({ method: 'cloneStandby', volumes: [{ volume: 'data', source: 'data-orders-standby-0' }] });
    expect(planDrill(input(s, { snapshotsInstalled: false }))).toEqual({ problem: expect.stringContaining('VolumeSnapshot API') as unknown });
    expect(planDrill(input(s, { standby: undefined }))).toEqual({ problem: 'the hot standby workload does not exist' });
  });

  test('hot, PostgreSQL: a copy the engine takes from the standby, without snapshots', () => {
    const s = site({ tier: 'hot', engine: pgEngine });
    expect(planDrill(input(s, { snapshotsInstalled: false }))).toMatchObject({ method: 'copyJob', volumes: [] });
    const copy = postgresqlEngine.drillCopyTemplate!(ctxOf(s))!;
    const script = copy.spec!.containers[0]!.command![2]!;
    expect(script).toContain('host=orders-standby-0.orders-standby.shop.svc');
    expect(script).not.toContain('host=orders-db.shop.svc');
    expect(copy.spec!.containers[0]!.volumeMounts).toEqual([{ name: 'data', mountPath: '/var/lib/postgresql/data' }]);
    expect(postgresqlEngine.drillCopyTemplate!(ctxOf(site({ tier: 'warm', warm: { schedule: '@hourly' }, engine: pgEngine })))).toBeUndefined();
  });

  test('warm: the newest complete copy, kept by retention, its data time known at the start', () => {
    const s = site({ tier: 'warm', warm: { schedule: '*/15 * * * *' } });
    const plan = planDrill(input(s, { runs: [run('r3', '2026-11-22T03:30:00Z', false), run('r2', '2026-11-22T03:15:00Z'), run('r1', '2026-11-22T03:00:00Z')] }));
    expect(plan).toMatchObject({ method: 'cloneCopy', sourceRun: 'r2', volumes: [{ volume: 'data', source: 'orders-data-r2' }], dataTime: new Date('2026-11-22T03:15:00Z') });
    expect(planDrill(input(s))).toEqual({ problem: 'no complete standby copy exists yet' });
  });

  test('cold: the newest ready snapshot set, or the newest dump by the restore Job', () => {
    const snaps = site({ tier: 'cold', cold: { schedule: '0 2 * * *' } });
    const plan = planDrill(input(snaps, { sets: [set('s2', '2026-11-22T02:00:00Z', false), set('s1', '2026-11-21T02:00:00Z')] }));
    expect(plan).toMatchObject({ method: 'restoreSnapshots', sourceRun: 's1', volumes: [{ volume: 'data', source: 'orders-data-s1' }], dataTime: new Date('2026-11-21T02:00:00Z') });
    const dumps = site({ tier: 'cold', cold: { schedule: '0 2 * * *', method: 'engine' }, engine: pgEngine });
    expect(planDrill(input(dumps))).toEqual({ problem: expect.stringContaining('no snapshot Job has succeeded') as unknown });
    const job: V1Job = {
      metadata: { name: 'orders-snapshot-1', labels: { 'standby.dev/role': 'snapshot' } },
      status: { startTime: new Date('2026-11-22T02:00:00Z'), completionTime: new Date('2026-11-22T02:01:00Z'), conditions: [{ type: 'Complete', status: 'True' }] },
    };
    expect(planDrill(input(dumps, { jobs: [job] }))).toMatchObject({ method: 'restoreJob', dataTime: new Date('2026-11-22T02:00:00Z') });
  });
});

describe('the PostgreSQL engine checks a drill copy', () => {
  test('as the superuser, at $DRILL_HOST, reporting the newest replayed commit in its termination message', () => {
    const s = site({ tier: 'warm', warm: { schedule: '@hourly', method: 'engine' }, engine: pgEngine, drill: { timeout: '10m' } });
    const t = postgresqlEngine.verifyTemplate!(ctxOf(s))!;
    const c = t.spec!.containers[0]!;
    expect(c.env).toEqual([
      { name: 'PGUSER', valueFrom: { secretKeyRef: { name: 'su', key: 'username' } } },
      { name: 'PGPASSWORD', valueFrom: { secretKeyRef: { name: 'su', key: 'password' } } },
    ]);
    expect(c.terminationMessagePath).toBe('/dev/termination-log');
    const script = c.command![2]!;
    expect(script).toContain('"host=$DRILL_HOST "\'port=5432 dbname=postgres\'');
    expect(script).toContain('deadline=$(( $(date +%s) + 600 ))');
    expect(script).toContain('pg_last_xact_replay_timestamp()');
    expect(script).toContain('newest-commit=%s');
    expect(t.spec?.automountServiceAccountToken).toBe(false);
  });
});
