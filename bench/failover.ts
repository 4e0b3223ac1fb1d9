// Failover latency, with the other sites in place: one hot site at a time
// (failureThreshold 0s) has its primary pod patched not Ready through /status,
// as a failing kubelet would. Watches (opened before the patch) time:
//   observed  the operator's own observation time (status.primary.notReadySince,
//             the same machine clock), and the first site event showing it;
//   switch    the traffic Service's selector pointing at the standby's pods;
//   floor     Kubernetes' own EndpointSlice controller marking the same pod not
//             ready (or dropping it) in the primary Service's EndpointSlice.
// All from t0, taken just before the PATCH is sent.
import { HttpMethod, type V1EndpointSlice, type V1Service } from '@kubernetes/client-node';
import type { StandbySiteObject } from '../src/api/site.ts';
import { SITE_RESOURCE } from '../src/api/resource.ts';
import type { KubeClient } from '../src/k8s/client.ts';
import { objectPath, R } from '../src/k8s/resources.ts';
import type { WatchEvent } from '../src/k8s/types.ts';
import { names, standbySelector } from '../src/site/names.ts';
import { deadline, errorMessage, log, now, round, sleep, summarize, wallOf, type Summary } from './common.ts';
import type { SitePlan } from './fixtures.ts';
import { openWatch, type WatchHandle } from './watch.ts';

export interface FailoverSample {
  site: string;
  /** ms from t0 to the operator's notReadySince (its clock at the reconcile that saw the pod not Ready). */
  observedMs: number | null;
  /** ms from t0 to the first site watch event showing the failure (primary.ready false or a promotion). */
  siteEventMs: number | null;
  /** ms from t0 to the traffic Service selecting the standby (watch). */
  switchMs: number | null;
  /** ms from t0 to the primary Service's EndpointSlice showing the pod not ready or gone (watch). */
  floorMs: number | null;
  /** ms from t0 to status.promotion.state Promoted (watch). */
  promotedMs: number | null;
  /** ms the status PATCH itself took. */
  patchMs: number;
  /** status.promotion.durationSeconds as the operator recorded it (start to switched). */
  operatorDurationMs: number | null;
  error?: string;
}

export interface FailoverResult {
  n: number;
  reps: number;
  completed: number;
  pauseMs: number;
  observed: Summary;
  siteEvent: Summary;
  switch: Summary;
  floor: Summary;
  promoted: Summary;
  operatorDuration: Summary;
  /** Our switch time over Kubernetes' EndpointSlice floor: p50/p50 and p99/p99. */
  ratio: { p50: number | null; p99: number | null };
  samples: FailoverSample[];
}

type SiteObj = StandbySiteObject;
const TIMEOUT_MS = 30_000;

function sameSelector(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  if (!a) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** Sets Ready and ContainersReady of a pod through /status with a strategic merge patch (other conditions stay). */
async function setPodReady(client: KubeClient, ns: string, pod: string, ready: boolean): Promise<void> {
  const status = ready ? 'True' : 'False';
  const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  await client.request(HttpMethod.PATCH, objectPath(R.pod, ns, pod, 'status'), {
    verb: 'patch',
    resource: 'pods/status',
    contentType: 'application/strategic-merge-patch+json',
    body: {
      status: {
        conditions: [
          { type: 'Ready', status, lastTransitionTime: at, reason: ready ? undefined : 'BenchNotReady' },
          { type: 'ContainersReady', status, lastTransitionTime: at },
        ],
      },
    },
  });
}

/** Whether any of the slices still lists the pod as ready. */
function podReadyInSlices(slices: Map<string, V1EndpointSlice>, pod: string): boolean {
  for (const s of slices.values()) {
    for (const e of s.endpoints ?? []) {
      if (e.targetRef?.name === pod && e.conditions?.ready !== false) return true;
    }
  }
  return false;
}

/** A sample with nothing measured yet. */
function emptySample(site: string): FailoverSample {
  return { site, observedMs: null, siteEventMs: null, switchMs: null, floorMs: null, promotedMs: null, patchMs: 0, operatorDurationMs: null };
}

async function oneFailover(client: KubeClient, plan: SitePlan): Promise<FailoverSample> {
  const ns = plan.namespace;
  const pod = `${plan.name}-0`;
  const traffic = names.traffic(plan.name);
  const want = standbySelector(plan.name);
  const sample = emptySample(`${ns}/${plan.name}`);

  const site = await client.list<SiteObj>(SITE_RESOURCE, ns, { fieldSelector: `metadata.name=${plan.name}` });
  const svc = await client.list<V1Service>(R.service, ns, { fieldSelector: `metadata.name=${traffic}` });
  const eps = await client.list<V1EndpointSlice>(R.endpointSlice, ns, { labelSelector: `kubernetes.io/service-name=${plan.name}` });
  const s0 = site.items[0];
  if (s0?.status?.phase !== 'Protected') throw new Error(`site ${sample.site} is ${s0?.status?.phase ?? 'missing'}, not Protected`);
  if (sameSelector(svc.items[0]?.spec?.selector, want)) throw new Error(`traffic Service ${traffic} already selects the standby`);
  const slices = new Map(eps.items.map((s) => [s.metadata?.name ?? '', s]));
  if (!podReadyInSlices(slices, pod)) throw new Error(`pod ${pod} is not a ready endpoint of Service ${plan.name} before the failure`);

  let t0 = Number.NaN;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const check = () => {
    if (sample.switchMs !== null && sample.floorMs !== null && sample.promotedMs !== null && sample.observedMs !== null) resolveDone();
  };
  const since = (at: number) => round(at - t0, 1);
  const watches: WatchHandle[] = [
    openWatch<SiteObj>(client, SITE_RESOURCE, ns, { resourceVersion: site.resourceVersion, fieldSelector: `metadata.name=${plan.name}` }, (e: WatchEvent<SiteObj>, at) => {
      if (Number.isNaN(t0) || e.type === 'BOOKMARK') return;
      const st = e.object.status;
      if (sample.siteEventMs === null && (st?.primary?.ready === false || st?.promotion !== undefined)) sample.siteEventMs = since(at);
      const seen = [st?.primary?.notReadySince, st?.promotion?.startedAt].filter((x): x is string => x !== undefined).map((x) => Date.parse(x));
      if (sample.observedMs === null && seen.length > 0) sample.observedMs = round(Math.min(...seen) - wallOf(t0), 1);
      if (sample.promotedMs === null && st?.promotion?.state === 'Promoted') {
        sample.promotedMs = since(at);
        if (st.promotion.durationSeconds !== undefined) sample.operatorDurationMs = round(st.promotion.durationSeconds * 1000, 1);
      }
      if (st?.promotion?.state === 'Failed') sample.error = `promotion failed: ${st.promotion.message ?? ''}`;
      check();
    }),
    openWatch<V1Service>(client, R.service, ns, { resourceVersion: svc.resourceVersion, fieldSelector: `metadata.name=${traffic}` }, (e, at) => {
      if (Number.isNaN(t0) || e.type === 'BOOKMARK') return;
      if (sample.switchMs === null && sameSelector(e.object.spec?.selector, want)) sample.switchMs = since(at);
      check();
    }),
    openWatch<V1EndpointSlice>(client, R.endpointSlice, ns, { resourceVersion: eps.resourceVersion, labelSelector: `kubernetes.io/service-name=${plan.name}` }, (e, at) => {
      if (e.type === 'BOOKMARK') return;
      const key = e.object.metadata?.name ?? '';
      if (e.type === 'DELETED') slices.delete(key);
      else slices.set(key, e.object);
      if (Number.isNaN(t0)) return;
      if (sample.floorMs === null && !podReadyInSlices(slices, pod)) sample.floorMs = since(at);
      check();
    }),
  ];
  try {
    await Promise.all(watches.map((w) => w.opened));
    t0 = now();
    await setPodReady(client, ns, pod, false);
    sample.patchMs = round(now() - t0, 1);
    const timeout = deadline(TIMEOUT_MS).then(() => 'timeout' as const);
    if ((await Promise.race([done, timeout])) === 'timeout') {
      const missing = (['observedMs', 'switchMs', 'floorMs', 'promotedMs'] as const).filter((k) => sample[k] === null);
      sample.error ??= `after ${TIMEOUT_MS / 1000} s still missing: ${missing.join(', ')}`;
    }
  } finally {
    for (const w of watches) w.stop();
  }
  return sample;
}

export interface FailoverOptions {
  pauseMs: number;
}

/** Runs one failover per plan, one after another. */
export async function measureFailover(client: KubeClient, n: number, plans: readonly SitePlan[], o: FailoverOptions): Promise<FailoverResult> {
  log(`failover: ${plans.length} repetitions among ${n} sites, ${o.pauseMs} ms apart`);
  const samples: FailoverSample[] = [];
  for (const [i, plan] of plans.entries()) {
    let s: FailoverSample;
    try {
      s = await oneFailover(client, plan);
    } catch (err) {
      s = { ...emptySample(`${plan.namespace}/${plan.name}`), error: errorMessage(err) };
    }
    samples.push(s);
    log(`  ${i + 1}/${plans.length} ${s.site}: observed ${s.observedMs ?? '-'} ms, switch ${s.switchMs ?? '-'} ms, floor ${s.floorMs ?? '-'} ms, promoted ${s.promotedMs ?? '-'} ms${s.error ? ` (${s.error})` : ''}`);
    await sleep(o.pauseMs);
  }
  const pick = (k: 'observedMs' | 'siteEventMs' | 'switchMs' | 'floorMs' | 'promotedMs' | 'operatorDurationMs') =>
    summarize(samples.map((s) => s[k]).filter((x): x is number => x !== null), 1);
  const sw = pick('switchMs');
  const floor = pick('floorMs');
  const ratio = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? round(a / b, 2) : null);
  return {
    n,
    reps: plans.length,
    completed: samples.filter((s) => s.switchMs !== null && s.floorMs !== null).length,
    pauseMs: o.pauseMs,
    observed: pick('observedMs'),
    siteEvent: pick('siteEventMs'),
    switch: sw,
    floor,
    promoted: pick('promotedMs'),
    operatorDuration: pick('operatorDurationMs'),
    ratio: { p50: ratio(sw.p50, floor.p50), p99: ratio(sw.p99, floor.p99) },
    samples,
  };
}
