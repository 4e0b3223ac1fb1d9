// What the benchmark creates: per site a primary (a StatefulSet with one
// replica and one volumeClaimTemplate, and its Service), the copy a warm or cold
// site needs to be Protected (seeded before the site, as the copy Jobs would
// leave it, with the operator's own builders), and the StandbySite itself.
import type { V1PersistentVolumeClaim, V1Pod, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { API_VERSION, KIND, validateSpec, type StandbySite } from '../src/api/site.ts';
import { SITE_RESOURCE } from '../src/api/resource.ts';
import { ApiError, type KubeClient } from '../src/k8s/client.ts';
import { R, resourceOfKind } from '../src/k8s/resources.ts';
import type { KubeObject } from '../src/k8s/types.ts';
import { ANNOTATION_COMPLETE, ANNOTATION_DATA_TIME, LABEL_SITE, names, runId } from '../src/site/names.ts';
import { primaryVolumes } from '../src/site/workload.ts';
import { buildSnapshot } from '../src/snapshot/take.ts';
import type { VolumeSnapshot } from '../src/snapshot/types.ts';
import { buildCopyClaim } from '../src/copies/claim.ts';
import { log, mapLimit, now, sleep, waitUntil } from './common.ts';

export type Tier = 'hot' | 'warm' | 'cold';

export interface SitePlan {
  name: string;
  namespace: string;
  tier: Tier;
  /** A hot site with failureThreshold 0s, used once by the failover measurement. */
  failover: boolean;
  /** An ordinary hot site with failureThreshold 0s whose primary fails with all the others in the zone failure (bench/zone.ts). */
  zone?: boolean;
}

export const NAMESPACES = 10;
export const NAMESPACE_PREFIX = 'bench-';
/** Label on everything the bench creates (namespaces, primaries, sites). */
export const BENCH_LABEL = 'bench.standby.dev/run';

/** The tier of the i-th ordinary site: 50 % hot, 25 % warm, 25 % cold. */
export function tierOf(i: number): Tier {
  const r = i % 4;
  return r < 2 ? 'hot' : r === 2 ? 'warm' : 'cold';
}

/**
 * n sites, of which `failover` are the failover measurement's hot sites; spread over NAMESPACES
 * namespaces. With `zone`, every ordinary hot site promotes at once (failureThreshold 0s).
 */
export function planSites(n: number, failover: number, zone = false): SitePlan[] {
  const plans: SitePlan[] = [];
  const ordinary = n - failover;
  for (let i = 0; i < ordinary; i++) {
    const tier = tierOf(i);
    plans.push({ name: `s${String(i).padStart(5, '0')}`, namespace: `${NAMESPACE_PREFIX}${i % NAMESPACES}`, tier, failover: false, ...(zone && tier === 'hot' ? { zone: true } : {}) });
  }
  for (let i = 0; i < failover; i++) {
    plans.push({ name: `fo${String(i).padStart(3, '0')}`, namespace: `${NAMESPACE_PREFIX}${i % NAMESPACES}`, tier: 'hot', failover: true });
  }
  return plans;
}

export function tierCounts(plans: readonly SitePlan[]): Record<Tier, number> & { failover: number } {
  const c = { hot: 0, warm: 0, cold: 0, failover: 0 };
  for (const p of plans) {
    c[p.tier]++;
    if (p.failover) c.failover++;
  }
  return c;
}

export interface Schedule {
  cron: string;
  timeZone: string;
  /** Why it does not fire during the run. */
  note: string;
}

/** A daily schedule 12 hours away from now (UTC), so no copy Job fires during the run. */
export function quietSchedule(at = new Date()): Schedule {
  const hour = (at.getUTCHours() + 12) % 24;
  return {
    cron: `0 ${hour} * * *`,
    timeZone: 'UTC',
    note: `warm and cold schedules are "0 ${hour} * * *" UTC, ~12 h after the start: no sync or snapshot Job fires during the run, and nextSyncTime timers are hours away`,
  };
}

// ---- objects --------------------------------------------------------------------------------

export function primaryService(p: SitePlan): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: p.name, namespace: p.namespace, labels: { [BENCH_LABEL]: 'primary' } },
    spec: { selector: { app: p.name }, ports: [{ name: 'main', port: 5432, targetPort: 5432 }] },
  };
}

export function primaryStatefulSet(p: SitePlan): V1StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: p.name, namespace: p.namespace, labels: { [BENCH_LABEL]: 'primary' } },
    spec: {
      replicas: 1,
      serviceName: p.name,
      selector: { matchLabels: { app: p.name } },
      template: {
        metadata: { labels: { app: p.name, team: 'data' } },
        spec: {
          containers: [
            {
              name: 'main',
              image: 'example.invalid/db:1',
              ports: [{ containerPort: 5432 }],
              volumeMounts: [{ name: 'data', mountPath: '/data' }],
            },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'data' },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
        },
      ],
    },
  };
}

export function siteSpec(p: SitePlan, schedule: Schedule): Record<string, unknown> {
  const primary = { workload: { kind: 'StatefulSet', name: p.name }, service: p.name };
  switch (p.tier) {
    case 'hot':
      return {
        tier: 'hot',
        primary,
        hot: { replicas: 1 },
        ...(p.failover || p.zone ? { promotion: { mode: 'automatic', failureThreshold: '0s' } } : {}),
      };
    case 'warm':
      return { tier: 'warm', primary, warm: { schedule: schedule.cron, timeZone: schedule.timeZone, method: 'volumeSnapshot' } };
    case 'cold':
      return { tier: 'cold', primary, cold: { schedule: schedule.cron, timeZone: schedule.timeZone, method: 'volumeSnapshot' } };
  }
}

export function siteObject(p: SitePlan, schedule: Schedule): KubeObject & { spec: unknown } {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: p.name, namespace: p.namespace, labels: { [BENCH_LABEL]: p.failover ? 'failover' : p.tier } },
    spec: siteSpec(p, schedule),
  };
}

/** The site as the operator's builders take it: validated spec with defaults. */
function validatedSite(p: SitePlan, schedule: Schedule): StandbySite {
  const v = validateSpec(siteSpec(p, schedule), p.name);
  if (!v.ok) throw new Error(`bench site ${p.name} is invalid: ${v.problems.map((x) => `${x.field}: ${x.message}`).join('; ')}`);
  return { metadata: { name: p.name, namespace: p.namespace }, spec: v.spec, status: {} };
}

/**
 * The copy a warm or cold site finds when it is created: a complete copy PVC
 * (warm) or a VolumeSnapshot set (cold), made with the operator's builders.
 */
export function seedObject(p: SitePlan, schedule: Schedule, dataTime: Date): KubeObject | undefined {
  if (p.tier === 'hot') return undefined;
  const site = validatedSite(p, schedule);
  const [volume] = primaryVolumes(primaryStatefulSet(p));
  if (!volume) throw new Error('the bench primary has no volume');
  const run = runId(dataTime);
  if (p.tier === 'cold') return buildSnapshot(site, volume, run, undefined);
  return buildCopyClaim({
    site,
    name: names.copyClaim(p.name, volume.volume, run),
    run,
    volume,
    primaryClaim: undefined,
    annotations: { [ANNOTATION_DATA_TIME]: dataTime.toISOString(), [ANNOTATION_COMPLETE]: 'true' },
  });
}

// ---- creating -------------------------------------------------------------------------------

/**
 * Creates an object; an existing one (409) counts as created. An overloaded API server's timeout
 * (504, or 500/429 while etcd is slow) is retried: on a shared machine one slow create among
 * thousands otherwise ended the whole run (results-5000-70e00f7-aborted.json). A create that took
 * effect before its timeout answers 409 on the retry.
 */
export async function createObject(client: KubeClient, obj: KubeObject): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.create(resourceOfKind(obj.kind ?? '', [SITE_RESOURCE]), obj);
      return;
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) return;
      const overloaded = err instanceof ApiError && (err.status === 504 || err.status === 500 || err.status === 429);
      if (!overloaded || attempt >= 6) throw err;
      await sleep(1000 * attempt);
    }
  }
}

export async function createAll(client: KubeClient, objects: readonly KubeObject[], concurrency: number): Promise<void> {
  await mapLimit(objects, concurrency, (o) => createObject(client, o));
}

export interface FixtureTimings {
  namespacesSeconds: number;
  primariesCreateSeconds: number;
  primariesReadySeconds: number;
  seedsSeconds: number;
  totalSeconds: number;
}

function isReady(p: V1Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function progress(what: string, done: number, total: number, state: { last: number }): void {
  if (Date.now() - state.last < 15_000) return;
  state.last = Date.now();
  log(`  ${what}: ${done}/${total}`);
}

/** Namespaces, primaries (Ready, volumes Bound) and the seeded copies (ready), before any site exists. */
export async function setupFixtures(
  client: KubeClient,
  plans: readonly SitePlan[],
  schedule: Schedule,
  o: { concurrency: number; timeoutMs: number },
): Promise<FixtureTimings> {
  const t0 = now();
  const deadline = Date.now() + o.timeoutMs;
  const left = () => Math.max(1000, deadline - Date.now());
  const poll = plans.length > 2000 ? 3000 : 1500;
  const namespaces = [...new Set(plans.map((p) => p.namespace))];
  for (const ns of namespaces) {
    await createObject(client, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { [BENCH_LABEL]: 'true' } } });
  }
  await waitUntil('the default ServiceAccount in the bench namespaces', left(), async () => {
    for (const ns of namespaces) if (!(await client.get(R.serviceAccount, ns, 'default'))) return false;
    return true;
  }, 500);
  const t1 = now();

  log(`creating ${plans.length} primaries (StatefulSet + Service), ${o.concurrency} in flight`);
  await createAll(client, plans.flatMap((p) => [primaryService(p), primaryStatefulSet(p)]), o.concurrency);
  const t2 = now();
  const podsState = { last: Date.now() };
  await waitUntil(`${plans.length} primary pods Ready and their PVCs Bound`, left(), async () => {
    const pods = await client.list<V1Pod>(R.pod, undefined, { labelSelector: `app,!${LABEL_SITE}` });
    const ready = pods.items.filter((p) => p.metadata?.namespace?.startsWith(NAMESPACE_PREFIX) && isReady(p)).length;
    progress('primary pods Ready', ready, plans.length, podsState);
    if (ready < plans.length) return false;
    const pvcs = await client.list<V1PersistentVolumeClaim>(R.pvc, undefined);
    const bound = new Set(pvcs.items.filter((c) => c.status?.phase === 'Bound').map((c) => `${c.metadata?.namespace ?? ''}/${c.metadata?.name ?? ''}`));
    const missing = plans.filter((p) => !bound.has(`${p.namespace}/data-${p.name}-0`)).length;
    progress('primary PVCs Bound', plans.length - missing, plans.length, podsState);
    return missing === 0;
  }, poll);
  const t3 = now();

  const seeds = plans.map((p) => seedObject(p, schedule, new Date())).filter((x): x is KubeObject => x !== undefined);
  log(`seeding ${seeds.length} copies (warm: complete copy PVCs, cold: VolumeSnapshots)`);
  await createAll(client, seeds, o.concurrency);
  const snapNames = new Set(seeds.filter((s) => s.kind === 'VolumeSnapshot').map((s) => `${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`));
  const claimNames = new Set(seeds.filter((s) => s.kind === 'PersistentVolumeClaim').map((s) => `${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`));
  const seedState = { last: Date.now() };
  await waitUntil(`${snapNames.size} VolumeSnapshots ready and ${claimNames.size} copy PVCs Bound`, left(), async () => {
    const snaps = await client.list<VolumeSnapshot>(R.volumeSnapshot, undefined);
    const ready = snaps.items.filter((s) => snapNames.has(`${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`) && s.status?.readyToUse === true).length;
    const pvcs = await client.list<V1PersistentVolumeClaim>(R.pvc, undefined);
    const bound = pvcs.items.filter((c) => claimNames.has(`${c.metadata?.namespace ?? ''}/${c.metadata?.name ?? ''}`) && c.status?.phase === 'Bound').length;
    progress('seeded copies ready', ready + bound, snapNames.size + claimNames.size, seedState);
    return ready === snapNames.size && bound === claimNames.size;
  }, poll);
  const t4 = now();
  const s = (a: number, b: number) => Math.round((b - a) / 100) / 10;
  return {
    namespacesSeconds: s(t0, t1),
    primariesCreateSeconds: s(t1, t2),
    primariesReadySeconds: s(t2, t3),
    seedsSeconds: s(t3, t4),
    totalSeconds: s(t0, t4),
  };
}
