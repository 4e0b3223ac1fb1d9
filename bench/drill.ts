// Drills at scale: with every site Protected, drills started by annotation
// (standby.dev/drill=<token>) on a sample of sites of each tier, tier after tier,
// in waves (a wave's drills all finish before the next wave starts, so the
// scratch copies of hundreds of sites never pile up on the control plane).
// Per tier: passed/failed, the operator's own rtoSeconds and dataAgeSeconds
// (status.lastDrill), and the wall time from the first annotation to the last record.
//
// The drill's load on the primary, on kwok with the generic engine: watches on
// every primary's StatefulSet, Service, pod and PVC count the changes (every
// write that changes an object) during the drills, and the sampled sites'
// production objects' resourceVersions are compared before and after.
import { HttpMethod, type V1PersistentVolumeClaim, type V1Pod, type V1Service, type V1StatefulSet } from '@kubernetes/client-node';
import type { StandbySiteObject } from '../src/api/site.ts';
import type { DrillRecord } from '../src/api/status.ts';
import { SITE_RESOURCE } from '../src/api/resource.ts';
import type { KubeClient } from '../src/k8s/client.ts';
import { objectPath, R, type Resource } from '../src/k8s/resources.ts';
import type { KubeObject } from '../src/k8s/types.ts';
import { ANNOTATION_DRILL, LABEL_SITE, names } from '../src/site/names.ts';
import { errorMessage, log, now, round, summarize, type Summary } from './common.ts';
import { BENCH_LABEL, NAMESPACE_PREFIX, type SitePlan, type Tier } from './fixtures.ts';
import { countVerbs, requestDelta, WRITE_VERBS, type OperatorProcess, type RequestCount } from './operator-process.ts';
import { Tracker, type TrackerEvent } from './watch.ts';

type SiteObj = StandbySiteObject;

export interface DrillOptions {
  /** Sites drilled per tier (all of the tier's if fewer). */
  perTier: number;
  /** Drills started together; the next wave starts when all of a wave's drills are recorded. */
  wave: number;
  /** How long one wave may take before its unfinished drills are counted as timed out. */
  waveTimeoutMs: number;
}

export interface DrillSample {
  site: string;
  tier: Tier;
  token: string;
  result: DrillRecord['result'] | 'TimedOut';
  rtoSeconds: number | null;
  dataAgeSeconds: number | null;
  /** ms from the annotation PATCH to the watch showing status.lastDrill with the token. */
  observedMs: number | null;
  message?: string;
}

export interface DrillTierResult {
  tier: Tier;
  /** Sites of the tier at this size, and how many were drilled. */
  sitesOfTier: number;
  drilled: number;
  passed: number;
  failed: number;
  aborted: number;
  timedOut: number;
  /** status.lastDrill.rtoSeconds of the passed drills (the operator's figure: start to a Ready, verified scratch copy). */
  rtoSeconds: Summary;
  /** status.lastDrill.dataAgeSeconds. */
  dataAgeSeconds: Summary;
  /** From the annotation to the record, seen from the bench (watch). */
  observedSeconds: Summary;
  /** From the tier's first annotation to its last record. */
  wallSeconds: number;
}

export interface PrimaryLoad {
  /** Changes the watches saw on the primaries' objects (StatefulSet, Service, pod, PVC) during the drills, sampled sites and all. */
  changesToSampledPrimaries: number;
  changesToAnyPrimary: number;
  /** Primary objects the watches held when the drills began (4 per site: what the counts above cover). */
  primaryObjectsWatched: number;
  byKind: Record<string, number>;
  /** Production objects of the sampled sites whose resourceVersion differs after the drills (primary StatefulSet, Service, pod, PVC; the traffic Service; the hot standby StatefulSet and pod). */
  objectsCompared: number;
  objectsChanged: string[];
  note: string;
}

export interface DrillBenchResult {
  n: number;
  perTier: number;
  wave: number;
  waveTimeoutSeconds: number;
  tiers: Record<Tier, DrillTierResult>;
  wallSeconds: number;
  primaryLoad: PrimaryLoad;
  /** The operator's API requests during the drills: writes in all, and every non-zero row. */
  operatorWrites: number;
  operatorWritesPerDrill: number | null;
  operatorRequests: RequestCount[];
  samples: DrillSample[];
}

const TIERS: readonly Tier[] = ['hot', 'warm', 'cold'];

async function annotate(client: KubeClient, p: SitePlan, token: string): Promise<void> {
  await client.request(HttpMethod.PATCH, objectPath(SITE_RESOURCE, p.namespace, p.name), {
    verb: 'patch',
    resource: SITE_RESOURCE.plural,
    contentType: 'application/merge-patch+json',
    body: { metadata: { annotations: { [ANNOTATION_DRILL]: token } } },
  });
}

/** The production objects of a site the drill must leave alone, with their resourceVersions now (absent ones left out). */
async function productionVersions(client: KubeClient, p: SitePlan): Promise<Map<string, string>> {
  const wanted: [Resource, string][] = [
    [R.statefulSet, p.name],
    [R.service, p.name],
    [R.pod, `${p.name}-0`],
    [R.pvc, `data-${p.name}-0`],
    [R.service, names.traffic(p.name)],
  ];
  if (p.tier === 'hot') wanted.push([R.statefulSet, names.standby(p.name)], [R.pod, `${names.standby(p.name)}-0`]);
  const out = new Map<string, string>();
  for (const [res, name] of wanted) {
    const o = await client.get<KubeObject>(res, p.namespace, name);
    const rv = o?.metadata?.resourceVersion;
    if (rv) out.set(`${res.kind}/${p.namespace}/${name}`, rv);
  }
  return out;
}

/** Whether an object belongs to a primary the bench made (not a standby, copy or scratch object). */
function primaryKey(kind: string, o: KubeObject, sites: ReadonlySet<string>): { site: string } | undefined {
  const ns = o.metadata?.namespace ?? '';
  const name = o.metadata?.name ?? '';
  if (!ns.startsWith(NAMESPACE_PREFIX)) return undefined;
  const labels = o.metadata?.labels ?? {};
  let site: string | undefined;
  if (kind === 'StatefulSet' || kind === 'Service') site = labels[BENCH_LABEL] === 'primary' ? name : undefined;
  else if (kind === 'Pod') site = labels[LABEL_SITE] === undefined ? /^(.*)-0$/.exec(name)?.[1] : undefined;
  else if (kind === 'PersistentVolumeClaim') site = /^data-(.*)-0$/.exec(name)?.[1];
  if (site === undefined || !sites.has(`${ns}/${site}`)) return undefined;
  return { site: `${ns}/${site}` };
}

export async function measureDrills(client: KubeClient, op: OperatorProcess, n: number, plans: readonly SitePlan[], o: DrillOptions): Promise<DrillBenchResult> {
  const ordinary = plans.filter((p) => !p.failover);
  const allSites = new Set(plans.map((p) => `${p.namespace}/${p.name}`));
  const sample = new Map<Tier, SitePlan[]>(TIERS.map((t) => [t, ordinary.filter((p) => p.tier === t).slice(0, o.perTier)]));
  const sampled = new Set([...sample.values()].flat().map((p) => `${p.namespace}/${p.name}`));
  log(`drill: ${TIERS.map((t) => `${sample.get(t)!.length} ${t}`).join(', ')} of ${n} sites, waves of ${o.wave}`);

  // Changes to primary objects, counted only while drills run.
  let counting = false;
  const byKind: Record<string, number> = {};
  let changesToSampled = 0;
  let changesToAny = 0;
  const onPrimary = (kind: string) => (type: TrackerEvent, obj: KubeObject) => {
    if (!counting || type === 'ADDED') return;
    const k = primaryKey(kind, obj, allSites);
    if (!k) return;
    changesToAny++;
    byKind[kind] = (byKind[kind] ?? 0) + 1;
    if (sampled.has(k.site)) changesToSampled++;
  };
  const kinds = ['StatefulSet', 'Service', 'Pod', 'PersistentVolumeClaim'] as const;
  const trackers = [
    new Tracker<V1StatefulSet>(client, R.statefulSet, undefined, { labelSelector: `${BENCH_LABEL}=primary` }, onPrimary(kinds[0])),
    new Tracker<V1Service>(client, R.service, undefined, { labelSelector: `${BENCH_LABEL}=primary` }, onPrimary(kinds[1])),
    new Tracker<V1Pod>(client, R.pod, undefined, { labelSelector: `app,!${LABEL_SITE}` }, onPrimary(kinds[2])),
    new Tracker<V1PersistentVolumeClaim>(client, R.pvc, undefined, {}, onPrimary(kinds[3])),
  ];

  // The sites, for status.lastDrill with the token each drill was started with.
  const waiting = new Map<string, { token: string; at: number; resolve: (s: SiteObj, at: number) => void }>();
  const sites = new Tracker<SiteObj>(client, SITE_RESOURCE, undefined, { labelSelector: BENCH_LABEL }, (type, s, at) => {
    if (type === 'DELETED') return;
    const key = `${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`;
    const w = waiting.get(key);
    if (w && s.status?.lastDrill?.token === w.token) {
      waiting.delete(key);
      w.resolve(s, at);
    }
  });

  const samples: DrillSample[] = [];
  const tiers = {} as Record<Tier, DrillTierResult>;
  const before = new Map<string, string>();
  const stamp = Date.now().toString(36);
  let m0;
  let watched = 0;
  const t0 = now();
  try {
    await Promise.all([...trackers, sites].map((t) => t.start()));
    trackers.forEach((t, i) => {
      for (const obj of t.items.values()) if (primaryKey(kinds[i]!, obj, allSites)) watched++;
    });
    for (const p of [...sample.values()].flat()) for (const [k, v] of await productionVersions(client, p)) before.set(k, v);
    m0 = await op.scrape();
    counting = true;
    for (const tier of TIERS) {
      const list = sample.get(tier)!;
      const tierStart = now();
      for (let i = 0; i < list.length; i += o.wave) {
        const wave = list.slice(i, i + o.wave);
        const results = await Promise.all(
          wave.map(async (p, j): Promise<DrillSample> => {
            const key = `${p.namespace}/${p.name}`;
            const token = `bench-${stamp}-${tier}-${i + j}`;
            const base: DrillSample = { site: key, tier, token, result: 'TimedOut', rtoSeconds: null, dataAgeSeconds: null, observedMs: null };
            const at = now();
            const seen = new Promise<{ s: SiteObj; at: number }>((resolve) => waiting.set(key, { token, at, resolve: (s, a) => resolve({ s, at: a }) }));
            try {
              await annotate(client, p, token);
            } catch (err) {
              waiting.delete(key);
              return { ...base, result: 'Failed', message: `annotating: ${errorMessage(err)}` };
            }
            const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), o.waveTimeoutMs).unref());
            const got = await Promise.race([seen, timeout]);
            if (!got) {
              waiting.delete(key);
              return { ...base, message: `no status.lastDrill with token ${token} after ${o.waveTimeoutMs / 1000} s` };
            }
            const rec = got.s.status!.lastDrill!;
            return {
              ...base,
              result: rec.result,
              rtoSeconds: rec.rtoSeconds ?? null,
              dataAgeSeconds: rec.dataAgeSeconds ?? null,
              observedMs: round(got.at - at, 1),
              ...(rec.result === 'Passed' ? {} : { message: rec.message }),
            };
          }),
        );
        samples.push(...results);
        const passed = results.filter((r) => r.result === 'Passed').length;
        log(`  ${tier} wave ${i / o.wave + 1}: ${passed}/${results.length} passed, rto p50 ${summarize(results.flatMap((r) => (r.rtoSeconds === null ? [] : [r.rtoSeconds])), 1).p50 ?? '-'} s${results.find((r) => r.message) ? ` (e.g. ${results.find((r) => r.message)!.site}: ${results.find((r) => r.message)!.message ?? ''})` : ''}`);
      }
      const mine = samples.filter((s) => s.tier === tier);
      const nums = (k: 'rtoSeconds' | 'dataAgeSeconds') => mine.filter((s) => s.result === 'Passed').flatMap((s) => (s[k] === null ? [] : [s[k]]));
      tiers[tier] = {
        tier,
        sitesOfTier: ordinary.filter((p) => p.tier === tier).length,
        drilled: mine.length,
        passed: mine.filter((s) => s.result === 'Passed').length,
        failed: mine.filter((s) => s.result === 'Failed').length,
        aborted: mine.filter((s) => s.result === 'Aborted').length,
        timedOut: mine.filter((s) => s.result === 'TimedOut').length,
        rtoSeconds: summarize(nums('rtoSeconds'), 1),
        dataAgeSeconds: summarize(nums('dataAgeSeconds'), 1),
        observedSeconds: summarize(mine.flatMap((s) => (s.observedMs === null ? [] : [s.observedMs / 1000])), 1),
        wallSeconds: round((now() - tierStart) / 1000, 1),
      };
    }
    counting = false;
  } finally {
    counting = false;
    await Promise.all([...trackers, sites].map((t) => t.stop()));
  }
  const m1 = await op.scrape();
  const rows = requestDelta(m0, m1);
  const after = new Map<string, string>();
  for (const p of [...sample.values()].flat()) for (const [k, v] of await productionVersions(client, p)) after.set(k, v);
  const objectsChanged = [...before].filter(([k, v]) => after.get(k) !== v).map(([k, v]) => `${k}: ${v} -> ${after.get(k) ?? 'gone'}`);
  const writes = countVerbs(rows, WRITE_VERBS);
  return {
    n,
    perTier: o.perTier,
    wave: o.wave,
    waveTimeoutSeconds: o.waveTimeoutMs / 1000,
    tiers,
    wallSeconds: round((now() - t0) / 1000, 1),
    primaryLoad: {
      changesToSampledPrimaries: changesToSampled,
      changesToAnyPrimary: changesToAny,
      primaryObjectsWatched: watched,
      byKind,
      objectsCompared: before.size,
      objectsChanged,
      note: 'generic engine on kwok: no process reads the primary\'s data; the load a drill could put on it is API writes to its objects, counted here by watches on every primary StatefulSet, Service, pod and PVC during the drills',
    },
    operatorWrites: writes,
    operatorWritesPerDrill: samples.length ? round(writes / samples.length, 1) : null,
    operatorRequests: rows,
    samples,
  };
}
