// Each tier against the real control plane: the objects a site owns, the
// status it shows, copy runs, bad references, tier changes and deletion.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { apply, createNamespace, deleteNamespace, kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import {
  lastJson,
  condition,
  getSite,
  installCrd,
  runCopy,
  startOperator,
  statefulPrimary,
  waitForSite,
  type OperatorProcess,
} from './support/operator.ts';

interface Obj {
  metadata: { name: string; labels?: Record<string, string>; ownerReferences?: { uid: string }[]; annotations?: Record<string, string> };
  spec?: Record<string, unknown> & { replicas?: number; selector?: unknown };
}

let op: OperatorProcess;
const ns: Record<'hot' | 'warm' | 'cold' | 'refs' | 'change' | 'gone', string> = {
  hot: '',
  warm: '',
  cold: '',
  refs: '',
  change: '',
  gone: '',
};

beforeAll(async () => {
  await installCrd();
  for (const k of Object.keys(ns) as (keyof typeof ns)[]) ns[k] = await createNamespace(`tiers-${k}`);
  op = await startOperator({ namespaces: Object.values(ns), name: 'tiers' });
});

afterAll(async () => {
  const code = await op.stop();
  expect(code, `operator exit code (log: ${op.logFile})`).toBe(0);
  for (const n of Object.values(ns)) await deleteNamespace(n);
});

/** A site whose primary is the StatefulSet and Service `name`; `extra` holds the tier's block. */
const siteYaml = (name: string, tier: string, extra: string) => `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ${name}}
spec:
  tier: ${tier}
  primary: {workload: {kind: StatefulSet, name: ${name}}, service: ${name}}
${extra}`;

const protectedSite = (s: Awaited<ReturnType<typeof getSite>>) =>
  s.status?.phase === 'Protected' && condition(s, 'Ready')?.status === 'True' && s.status.observedGeneration === s.metadata.generation;

describe('hot tier', () => {
  test('a running standby and a traffic Service; Protected; shown by kubectl get', async () => {
    const n = ns.hot;
    await apply(statefulPrimary('db'), n);
    await apply(
      `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: db}
spec:
  tier: hot
  primary: {workload: {kind: StatefulSet, name: db}, service: db}
  engine: {type: generic, generic: {standbyEnv: [{name: ROLE, value: standby}]}}
  hot: {replicas: 1, maxLag: 10s}
`,
      n,
    );
    const site = await waitForSite(n, 'db', protectedSite, 'hot site Protected');
    for (const t of ['PrimaryHealthy', 'StandbyReady', 'PromotionReady']) expect(condition(site, t)?.status, t).toBe('True');
    expect(site.status?.active).toBe('primary');
    expect(site.status?.standby).toMatchObject({ ready: true, readyReplicas: 1, workload: 'db-standby' });

    const standby = await kubectlJson<Obj & { spec: { template: { metadata: { labels: Record<string, string> }; spec: { containers: { env?: unknown[] }[] } } } }>(['-n', n, 'get', 'statefulset', 'db-standby']);
    expect(standby.spec.replicas).toBe(1);
    expect(standby.metadata.ownerReferences?.[0]?.uid).toBe(site.metadata.uid);
    expect(standby.spec.template.metadata.labels).toEqual({ team: 'data', 'standby.dev/site': 'db', 'standby.dev/role': 'standby' });
    expect(standby.spec.template.spec.containers[0]?.env).toEqual([{ name: 'ROLE', value: 'standby' }]);
    // The primary's selector (app=db) matches no standby pod.
    expect(await kubectl(['-n', n, 'get', 'pods', '-l', 'app=db', '-o', 'name'])).not.toContain('db-standby');

    const traffic = await kubectlJson<{ spec: { selector: Record<string, string>; ports: { port: number; name: string }[] } }>(['-n', n, 'get', 'service', 'db-active']);
    expect(traffic.spec.selector).toEqual({ app: 'db' });
    expect(traffic.spec.ports.map((p) => [p.name, p.port])).toEqual([['main', 5432]]);

    const table = await kubectl(['-n', n, 'get', 'standbysites']);
    expect(table.split('\n')[0]).toMatch(/^NAME\s+TIER\s+ACTIVE\s+PRIMARY\s+DATA AGE\s+RTO\s+LAG\s+PHASE\s+AGE$/);
    expect(table.split('\n')[1]).toMatch(/^db\s+hot\s+primary\s+Ready\s+Protected\s+\d+s$/);
    const wide = await kubectl(['-n', n, 'get', 'sbs', '-o', 'wide']);
    expect(wide.split('\n')[0]).toMatch(/LAST SYNC\s+NEXT SYNC\s+LAST PROMOTION\s+RESERVED CPU\s+RESERVED MEMORY\s+COPY STORAGE$/);
  });

  test('a spec change moves observedGeneration and converges', async () => {
    const n = ns.hot;
    await kubectl(['-n', n, 'patch', 'standbysite', 'db', '--type=merge', '-p', '{"spec":{"hot":{"replicas":2}}}']);
    const site = await waitForSite(n, 'db', (s) => s.metadata.generation === 2 && s.status?.observedGeneration === 2 && s.status.standby?.readyReplicas === 2, 'generation 2 observed with 2 standby replicas');
    expect(condition(site, 'Ready')?.observedGeneration).toBe(2);
    expect((await kubectlJson<Obj>(['-n', n, 'get', 'statefulset', 'db-standby'])).spec?.replicas).toBe(2);
  });
});

describe('warm tier', () => {
  test('a sync CronJob; the first sync makes the standby, the next moves it and removes the old copy', async () => {
    const n = ns.warm;
    await apply(statefulPrimary('db'), n);
    await apply(
      `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: db}
spec:
  tier: warm
  primary: {workload: {kind: StatefulSet, name: db}, service: db}
  rpoTarget: 1h
  warm: {schedule: "*/15 * * * *", timeZone: Europe/Berlin}
`,
      n,
    );
    const pending = await waitForSite(n, 'db', (s) => s.status?.phase === 'Pending' && s.status.nextSyncTime !== undefined, 'warm site Pending, waiting for its first sync');
    expect(condition(pending, 'StandbyReady')?.message).toContain('no complete sync exists yet');
    const cron = await kubectlJson<{ spec: { schedule: string; timeZone: string; concurrencyPolicy: string; suspend: boolean; jobTemplate: { spec: { template: { spec: { containers: { args: string[] }[] } } } } } }>(['-n', n, 'get', 'cronjob', 'db-sync']);
    expect(cron.spec).toMatchObject({ schedule: '*/15 * * * *', timeZone: 'Europe/Berlin', concurrencyPolicy: 'Forbid', suspend: false });
    expect(cron.spec.jobTemplate.spec.template.spec.containers[0]?.args).toEqual(['sync', '--site', `${n}/db`, '--image', 'example.invalid/standby-operator:e2e']);
    expect(await kubectl(['-n', n, 'get', 'statefulset', 'db-standby', '--ignore-not-found'])).toBe('');

    const first = await runCopy('sync', n, 'db');
    expect(first.code, first.stderr).toBe(0);
    const run1 = (lastJson(first.stdout) as { claims: { data: string } }).claims.data;
    const synced = await waitForSite(n, 'db', (s) => protectedSite(s) && s.status?.lastSyncTime !== undefined, 'warm site Protected after the first sync');
    expect(synced.status?.dataTimestamp).toBe(synced.status?.lastSyncTime);
    expect(condition(synced, 'RPOMet')?.status).toBe('True');
    const standby = await kubectlJson<{ spec: { replicas: number; template: { spec: { volumes: unknown[] } } } }>(['-n', n, 'get', 'statefulset', 'db-standby']);
    expect(standby.spec.replicas).toBe(0);
    expect(standby.spec.template.spec.volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: run1 } });

    // The copy run's names are per second: make sure the second run gets a new one.
    await new Promise((r) => setTimeout(r, 1100));
    const second = await runCopy('sync', n, 'db');
    expect(second.code, second.stderr).toBe(0);
    const run2 = (lastJson(second.stdout) as { claims: { data: string } }).claims.data;
    await waitFor(
      async () => {
        const sts = await kubectlJson<{ spec: { template: { spec: { volumes: { persistentVolumeClaim?: { claimName: string } }[] } } } }>(['-n', n, 'get', 'statefulset', 'db-standby']);
        return sts.spec.template.spec.volumes.some((v) => v.persistentVolumeClaim?.claimName === run2);
      },
      { timeoutMs: 30_000, description: 'the standby to mount the second copy' },
    );
    // Only after the standby moved does the old copy go.
    await waitFor(async () => (await kubectl(['-n', n, 'get', 'pvc', run1, '--ignore-not-found'])) === '', { timeoutMs: 30_000, description: 'the first copy to be deleted' });
    const after = await getSite(n, 'db');
    expect(new Date(after.status!.lastSyncTime!).getTime()).toBeGreaterThan(new Date(synced.status!.lastSyncTime!).getTime());
  });

  test('a Job fired from the sync CronJob completes and LastCopySucceeded turns True', async () => {
    const n = ns.warm;
    await kubectl(['-n', n, 'create', 'job', '--from=cronjob/db-sync', 'db-sync-manual']);
    const site = await waitForSite(n, 'db', (s) => condition(s, 'LastCopySucceeded')?.status === 'True', 'LastCopySucceeded True');
    expect(condition(site, 'LastCopySucceeded')?.message).toContain('the last sync Job finished at');
    expect(site.status?.lastSyncDuration).toMatch(/^\d+(\.\d+)?s$|^\d+m/);
  });
});

describe('cold tier', () => {
  test('a snapshot CronJob; snapshot runs make ready sets and retention prunes them', async () => {
    const n = ns.cold;
    await apply(statefulPrimary('db'), n);
    await apply(
      `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: db}
spec:
  tier: cold
  primary: {workload: {kind: StatefulSet, name: db}, service: db}
  cold: {schedule: "0 2 * * *", timeZone: UTC, retention: {keepLast: 2}}
`,
      n,
    );
    await waitForSite(n, 'db', (s) => s.status?.phase === 'Pending', 'cold site Pending before its first snapshot');
    const cron = await kubectlJson<{ spec: { concurrencyPolicy: string; jobTemplate: { spec: { template: { spec: { containers: { args: string[] }[]; serviceAccountName: string } } } } } }>(['-n', n, 'get', 'cronjob', 'db-snapshot']);
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    expect(cron.spec.jobTemplate.spec.template.spec.containers[0]?.args).toEqual(['snapshot', '--site', `${n}/db`]);
    expect(cron.spec.jobTemplate.spec.template.spec.serviceAccountName).toBe('db-copier');
    expect(await kubectl(['-n', n, 'get', 'statefulset', 'db-standby', '--ignore-not-found'])).toBe('');

    const runs: string[] = [];
    for (let i = 0; i < 3; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1100));
      const r = await runCopy('snapshot', n, 'db');
      expect(r.code, r.stderr).toBe(0);
      runs.push((lastJson(r.stdout) as { run: string }).run);
    }
    const snaps = await kubectlJson<{ items: { metadata: { labels: Record<string, string> }; status: { readyToUse: boolean } }[] }>(['-n', n, 'get', 'volumesnapshots']);
    // keepLast 2: the oldest run was pruned by the third.
    expect(snaps.items.map((s) => s.metadata.labels['standby.dev/copy-run']).sort()).toEqual(runs.slice(1).sort());
    expect(snaps.items.every((s) => s.status.readyToUse)).toBe(true);
    const site = await waitForSite(n, 'db', (s) => protectedSite(s) && s.status?.snapshots === 2, 'cold site Protected with 2 snapshot sets');
    expect(site.status?.lastSnapshotTime).toBe(site.status?.dataTimestamp);
  });

  test('after cold → warm, warm syncs prune only their own transfer snapshots, never the cold backups', async () => {
    const n = ns.cold;
    await apply(statefulPrimary('backups'), n);
    await apply(siteYaml('backups', 'cold', '  cold: {schedule: "0 2 * * *", retention: {keepLast: 5}}\n'), n);
    await waitForSite(n, 'backups', (s) => s.status?.phase === 'Pending', 'cold site Pending');
    const runOf = (stdout: string) => (lastJson(stdout) as { run: string }).run;
    const coldRuns: string[] = [];
    for (let i = 0; i < 2; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1100));
      const r = await runCopy('snapshot', n, 'backups');
      expect(r.code, r.stderr).toBe(0);
      coldRuns.push(runOf(r.stdout));
    }
    await apply(siteYaml('backups', 'warm', '  rpoTarget: 1h\n  warm: {schedule: "*/15 * * * *"}\n'), n);
    await waitForSite(n, 'backups', (s) => s.status?.observedGeneration === s.metadata.generation, 'the change to warm reconciled');
    const syncRuns: string[] = [];
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 1100));
      const r = await runCopy('sync', n, 'backups');
      expect(r.code, r.stderr).toBe(0);
      syncRuns.push(runOf(r.stdout));
    }
    const runsOf = async (role: string) =>
      (await kubectlJson<{ items: Obj[] }>(['-n', n, 'get', 'volumesnapshots', '-l', `standby.dev/site=backups,standby.dev/role=${role}`])).items
        .map((s) => s.metadata.labels?.['standby.dev/copy-run'])
        .sort();
    // The sync keeps its two newest transfer sets; the cold backups stay as cold.retention left them.
    expect(await runsOf('transfer')).toEqual(syncRuns.slice(1).sort());
    expect(await runsOf('snapshot')).toEqual(coldRuns.sort());
  });
});

describe('wrong references', () => {
  test('a missing workload gives a condition and touches nothing; creating it recovers', async () => {
    const n = ns.refs;
    await apply(
      `apiVersion: v1
kind: Service
metadata: {name: ghost}
spec: {selector: {app: ghost}, ports: [{port: 80}]}
---
apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ghost}
spec:
  tier: hot
  primary: {workload: {kind: StatefulSet, name: ghost}, service: ghost}
`,
      n,
    );
    const site = await waitForSite(n, 'ghost', (s) => condition(s, 'PrimaryHealthy')?.reason === 'PrimaryNotFound', 'PrimaryNotFound');
    expect(condition(site, 'PrimaryHealthy')?.message).toContain('StatefulSet ghost does not exist');
    expect(site.status?.phase).toBe('Degraded');
    expect(await kubectl(['-n', n, 'get', 'statefulset', '-o', 'name'])).toBe('');
    await apply(statefulPrimary('ghost'), n);
    await waitForSite(n, 'ghost', protectedSite, 'recovered once the workload exists');
  });

  test('a missing Service and an unknown time zone are reported with what to fix', async () => {
    const n = ns.refs;
    await apply(statefulPrimary('noservice'), n);
    await apply(
      `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: noservice}
spec:
  tier: hot
  primary: {workload: {kind: StatefulSet, name: noservice}, service: nope}
---
apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: badzone}
spec:
  tier: cold
  primary: {workload: {kind: StatefulSet, name: noservice}, service: noservice}
  cold: {schedule: "0 2 * * *", timeZone: Mars/Olympus_Mons}
`,
      n,
    );
    const noSvc = await waitForSite(n, 'noservice', (s) => s.status?.phase === 'Degraded' && (condition(s, 'Ready')?.message.includes('nope') ?? false), 'missing Service reported');
    expect(condition(noSvc, 'Ready')?.message).toContain(`Service nope (spec.primary.service) does not exist in namespace ${n}`);
    const zone = await waitForSite(n, 'badzone', (s) => condition(s, 'Ready')?.reason === 'InvalidSpec', 'unknown time zone reported');
    expect(condition(zone, 'Ready')?.message).toContain('spec.cold.timeZone: "Mars/Olympus_Mons" is not a time zone in the IANA database');
    // Nothing was created for a site whose spec the controller refused.
    expect(await kubectl(['-n', n, 'get', 'cronjob', 'badzone-snapshot', '--ignore-not-found'])).toBe('');
  });
});

describe('tier changes', () => {
  test('hot → warm → cold converges and leaves no orphans', async () => {
    const n = ns.change;
    await apply(statefulPrimary('db'), n);
    const site = (tier: string, extra: string) => siteYaml('db', tier, extra);
    await apply(site('hot', ''), n);
    await waitForSite(n, 'db', protectedSite, 'hot Protected');
    const owned = async () => {
      const out = await kubectl(['-n', n, 'get', 'statefulsets,deployments,cronjobs,services,networkpolicies,serviceaccounts,roles,rolebindings', '-l', 'standby.dev/site=db', '-o', 'name']);
      return out.trim().split('\n').filter(Boolean).sort();
    };
    expect(await owned()).toEqual(['service/db-active', 'statefulset.apps/db-standby']);

    await apply(site('warm', '  warm: {schedule: "@hourly"}\n'), n);
    await waitFor(async () => JSON.stringify(await owned()) === JSON.stringify([
      'cronjob.batch/db-sync',
      'role.rbac.authorization.k8s.io/db-copier',
      'rolebinding.rbac.authorization.k8s.io/db-copier',
      'service/db-active',
      'serviceaccount/db-copier',
    ]), { timeoutMs: 30_000, description: 'warm objects only (no standby until the first sync)' });

    await apply(site('cold', '  cold: {schedule: "@daily"}\n'), n);
    await waitFor(async () => JSON.stringify(await owned()) === JSON.stringify([
      'cronjob.batch/db-snapshot',
      'role.rbac.authorization.k8s.io/db-copier',
      'rolebinding.rbac.authorization.k8s.io/db-copier',
      'service/db-active',
      'serviceaccount/db-copier',
    ]), { timeoutMs: 30_000, description: 'cold objects only' });
    // The hot standby's volume is data: its PVC stays (persistentVolumeClaimRetentionPolicy Retain).
    expect(await kubectl(['-n', n, 'get', 'pvc', 'data-db-standby-0', '-o', 'name'])).toContain('data-db-standby-0');
  });

  test('warm with a synced standby → hot replaces the standby StatefulSet (its claim templates cannot change) and keeps the copy', async () => {
    const n = ns.change;
    await apply(statefulPrimary('wh'), n);
    const site = (tier: string, extra: string) => siteYaml('wh', tier, extra);
    await apply(site('warm', '  rpoTarget: 1h\n  warm: {schedule: "@hourly"}\n'), n);
    await waitForSite(n, 'wh', (s) => s.status?.phase === 'Pending', 'warm Pending');
    const r = await runCopy('sync', n, 'wh');
    expect(r.code, r.stderr).toBe(0);
    const copy = (lastJson(r.stdout) as { claims: { data: string } }).claims.data;
    await waitForSite(n, 'wh', protectedSite, 'warm Protected');
    type Sts = { metadata: { uid: string }; spec: { replicas: number; volumeClaimTemplates?: { metadata: { name: string } }[] } };
    const warm = await kubectlJson<Sts>(['-n', n, 'get', 'statefulset', 'wh-standby']);
    expect(warm.spec.volumeClaimTemplates ?? []).toEqual([]);

    await apply(site('hot', ''), n);
    const hot = await waitForSite(n, 'wh', (s) => protectedSite(s) && s.status?.standby?.ready === true, 'hot Protected with a Ready standby', 60_000);
    expect(hot.status?.phase).toBe('Protected');
    const replaced = await kubectlJson<Sts>(['-n', n, 'get', 'statefulset', 'wh-standby']);
    expect(replaced.metadata.uid).not.toBe(warm.metadata.uid);
    expect(replaced.spec.replicas).toBe(1);
    expect(replaced.spec.volumeClaimTemplates?.map((t) => t.metadata.name)).toEqual(['data']);
    // The warm copy is data: it stays.
    expect(await kubectl(['-n', n, 'get', 'pvc', copy, '-o', 'name'])).toContain(copy);
  });
});

describe('deletion', () => {
  test('deleting a site removes what it owns and keeps snapshots and standby copies; policy Delete removes them', async () => {
    const n = ns.gone;
    await apply(statefulPrimary('keep'), n);
    // One workload, one site: the warm site protects a workload of its own.
    await apply(statefulPrimary('keepw'), n);
    await apply(statefulPrimary('drop'), n);
    await apply(
      `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: keep}
spec:
  tier: cold
  primary: {workload: {kind: StatefulSet, name: keep}, service: keep}
  cold: {schedule: "@daily"}
---
apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: keepwarm}
spec:
  tier: warm
  primary: {workload: {kind: StatefulSet, name: keepw}, service: keepw}
  warm: {schedule: "@hourly"}
---
apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: drop}
spec:
  tier: cold
  primary: {workload: {kind: StatefulSet, name: drop}, service: drop}
  cold: {schedule: "@daily"}
  deletionPolicy: {snapshots: Delete, standbyVolumes: Delete}
`,
      n,
    );
    await waitForSite(n, 'keepwarm', (s) => s.status?.phase === 'Pending', 'keepwarm reconciled');
    for (const [what, site] of [['snapshot', 'keep'], ['sync', 'keepwarm'], ['snapshot', 'drop']] as const) {
      const r = await runCopy(what, n, site);
      expect(r.code, r.stderr).toBe(0);
    }
    await waitForSite(n, 'keepwarm', protectedSite, 'keepwarm Protected');
    const snapsOf = async (site: string) => (await kubectl(['-n', n, 'get', 'volumesnapshots', '-l', `standby.dev/site=${site}`, '-o', 'name'])).trim();
    const copiesOf = async (site: string) => (await kubectl(['-n', n, 'get', 'pvc', '-l', `standby.dev/site=${site},standby.dev/role=copy`, '-o', 'name'])).trim();
    const keptSnap = await snapsOf('keep');
    const keptCopy = await copiesOf('keepwarm');
    expect(keptSnap).not.toBe('');
    expect(keptCopy).not.toBe('');
    expect(await snapsOf('drop')).not.toBe('');

    // A policy changed to Delete later applies to the snapshots that already exist.
    await kubectl(['-n', n, 'patch', 'standbysite', 'drop', '--type=merge', '-p', '{"spec":{"deletionPolicy":{"snapshots":"Retain"}}}']);
    await waitFor(
      async () => {
        const list = await kubectlJson<{ items: Obj[] }>(['-n', n, 'get', 'volumesnapshots', '-l', 'standby.dev/site=drop']);
        return list.items.length > 0 && list.items.every((o) => (o.metadata.ownerReferences ?? []).length === 0);
      },
      { timeoutMs: 30_000, description: 'Retain: snapshots no longer owned by the site' },
    );
    await kubectl(['-n', n, 'patch', 'standbysite', 'drop', '--type=merge', '-p', '{"spec":{"deletionPolicy":{"snapshots":"Delete"}}}']);
    await waitFor(
      async () => {
        const list = await kubectlJson<{ items: Obj[] }>(['-n', n, 'get', 'volumesnapshots', '-l', 'standby.dev/site=drop']);
        return list.items.length > 0 && list.items.every((o) => (o.metadata.ownerReferences ?? []).length === 1);
      },
      { timeoutMs: 30_000, description: 'Delete: snapshots owned by the site again' },
    );

    await kubectl(['-n', n, 'delete', 'standbysite', 'keep', 'keepwarm', 'drop']);
    await waitFor(async () => (await kubectl(['-n', n, 'get', 'cronjobs,statefulsets', '-l', 'standby.dev/role', '-o', 'name'])).trim() === '', {
      timeoutMs: 60_000,
      description: 'owned CronJobs and standbys garbage-collected',
    });
    await waitFor(async () => (await snapsOf('drop')) === '', { timeoutMs: 60_000, description: 'deletionPolicy Delete: snapshots removed with the site' });
    expect(await snapsOf('keep')).toBe(keptSnap);
    expect(await copiesOf('keepwarm')).toBe(keptCopy);
  });
});
