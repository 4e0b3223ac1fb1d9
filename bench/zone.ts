// A zone failure: every hot primary (failureThreshold 0s) made not Ready at once, from one client
// process, with the other sites in place. Cluster-wide watches, opened before the failure, time
// per site when the operator observed it (status.primary.notReadySince or promotion.startedAt, its
// own clock), when the fence landed (the fence NetworkPolicy appearing), when traffic switched
// (the traffic Service selecting the standby) and when the site showed Promoted; and per primary
// Service when Kubernetes' EndpointSlice controller marked the pod not ready or dropped it (the
// floor). All in ms from t0, taken just before the first PATCH is sent.
//
// Where the time went comes from the operator's own metrics over the window (queue wait by lane,
// waits for the cache to show its own writes, API answer time by verb, reconciles) next to
// kube-apiserver's (handling time, API Priority and Fairness queue wait).
import { HttpMethod, type V1EndpointSlice, type V1Service } from '@kubernetes/client-node';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { loadavg } from 'node:os';
import type { StandbySiteObject } from '../src/api/site.ts';
import { SITE_RESOURCE } from '../src/api/resource.ts';
import { keyOf } from '../src/k8s/types.ts';
import { objectPath, R } from '../src/k8s/resources.ts';
import { names, standbySelector } from '../src/site/names.ts';
import type { BenchCluster } from './cluster.ts';
import { errorMessage, log, now, round, sleep, summarize, wallOf, type Summary } from './common.ts';
import { serverSide, type ServerSideRow } from './convergence.ts';
import type { SitePlan } from './fixtures.ts';
import { countVerbs, requestDelta, WRITE_VERBS, type OperatorProcess, type RequestCount, type Scrape, metricValue } from './operator-process.ts';
import { Tracker } from './watch.ts';

export interface ZoneSample {
  site: string;
  /** ms from t0 to this site's PATCH answered. */
  patchAnsweredMs: number | null;
  /** The operator's own time of the observation (notReadySince / promotion.startedAt), from t0. */
  observedMs: number | null;
  /** The fence NetworkPolicy appearing (watch). */
  fenceMs: number | null;
  /** status.promotion.fencedAt, the operator's clock. */
  operatorFencedMs: number | null;
  switchMs: number | null;
  promotedMs: number | null;
  floorMs: number | null;
  error?: string;
}

export interface HistogramDelta {
  count: number;
  meanMs: number | null;
  /** The upper bound of the bucket holding the 99th percentile (ms); null when above the last bucket or empty. */
  p99UpperMs: number | null;
}

export interface ZoneResult {
  n: number;
  sites: number;
  completed: number;
  /** The failing: the last PATCH sent, and the last answered, ms after t0. */
  lastPatchSentMs: number;
  lastPatchAnsweredMs: number;
  within100ms: boolean;
  observed: Summary;
  fence: Summary;
  switch: Summary;
  promoted: Summary;
  floor: Summary;
  /** Per site: observed -> fence landed -> switched -> Promoted. */
  steps: { detect: Summary; observedToFence: Summary; fenceToSwitch: Summary; switchToPromoted: Summary };
  /** Our switch over the floor, in the same run: p50/p50, p99/p99, max/max. */
  ratio: { p50: number | null; p99: number | null; max: number | null };
  /** The operator's API requests over the window (from t0 to the last site Promoted, then quiet). */
  requests: { total: number; writes: number; perPromotion: number | null; writesPerPromotion: number | null; byVerbResource: RequestCount[] };
  where: {
    queueWait: Record<'urgent' | 'routine', HistogramDelta>;
    cacheWait: Record<'seen' | 'timeout', HistogramDelta>;
    apiAnswer: Record<string, HistogramDelta>;
    reconciles: HistogramDelta;
    /** kube-apiserver's own handling (all clients) and APF queue wait over the window. */
    apiServer: { rows: ServerSideRow[]; apfWaitMeanMs: number | null } | null;
    /** Open sockets of the operator before the failure and at the end. */
    operatorSockets: { before: number | null; after: number | null };
    operatorCpuSeconds: number | null;
    /** 1 s samples: ready, urgent (of ready), delayed, in-flight keys. */
    queueTimeline: { t: number; ready: number; inFlight: number; delayed: number }[];
  };
  loadAverage: { start: number[]; end: number[] };
  samples: ZoneSample[];
}

type SiteObj = StandbySiteObject;

function sameSelector(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  if (!a) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function podReadyInSlices(slices: Iterable<V1EndpointSlice>, pod: string): boolean {
  for (const s of slices) for (const e of s.endpoints ?? []) if (e.targetRef?.name === pod && e.conditions?.ready !== false) return true;
  return false;
}

/** A histogram's change between two scrapes (prom-client's _bucket/_sum/_count), matched by labels. */
export function histogramDelta(a: Scrape, b: Scrape, name: string, match: Record<string, string> = {}): HistogramDelta {
  const count = metricValue(b, `${name}_count`, match) - metricValue(a, `${name}_count`, match);
  const sum = metricValue(b, `${name}_sum`, match) - metricValue(a, `${name}_sum`, match);
  const buckets = new Map<number, number>();
  for (const [s, sign] of [[b, 1], [a, -1]] as const) {
    for (const x of s.samples) {
      if (x.name !== `${name}_bucket` || !Object.entries(match).every(([k, v]) => x.labels[k] === v)) continue;
      const le = x.labels.le === '+Inf' ? Infinity : Number(x.labels.le);
      buckets.set(le, (buckets.get(le) ?? 0) + sign * x.value);
    }
  }
  let p99: number | null = null;
  if (count > 0) {
    const want = 0.99 * count;
    const bound = [...buckets.entries()].sort((p, q) => p[0] - q[0]).find(([, c]) => c >= want)?.[0];
    p99 = bound === undefined || bound === Infinity ? null : round(bound * 1000, 0);
  }
  return { count, meanMs: count > 0 ? round((sum / count) * 1000, 1) : null, p99UpperMs: p99 };
}

export interface ZoneOptions {
  timeoutMs: number;
}

/** Fails every plan's primary pod at once and measures until every site is Promoted (or the timeout). */
export async function measureZoneFailure(cluster: BenchCluster, op: OperatorProcess, n: number, plans: readonly SitePlan[], o: ZoneOptions): Promise<ZoneResult> {
  const client = cluster.client;
  log(`zone failure: ${plans.length} hot primaries of ${n} sites made not Ready at once`);
  const loadStart = loadavg().map((x) => round(x, 2));
  const byKey = new Map(plans.map((p) => [`${p.namespace}/${p.name}`, p]));
  const samples = new Map<string, ZoneSample>(
    plans.map((p) => [`${p.namespace}/${p.name}`, { site: `${p.namespace}/${p.name}`, patchAnsweredMs: null, observedMs: null, fenceMs: null, operatorFencedMs: null, switchMs: null, promotedMs: null, floorMs: null }]),
  );
  const trafficOf = new Map(plans.map((p) => [`${p.namespace}/${names.traffic(p.name)}`, `${p.namespace}/${p.name}`]));
  const fenceOf = new Map(plans.map((p) => [`${p.namespace}/${names.fence(p.name)}`, `${p.namespace}/${p.name}`]));
  let t0 = Number.NaN;
  const since = (at: number) => round(at - t0, 1);
  let pending = plans.length;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const complete = (s: ZoneSample) => s.observedMs !== null && s.fenceMs !== null && s.switchMs !== null && s.promotedMs !== null && s.floorMs !== null;
  const touch = (s: ZoneSample, was: boolean) => {
    if (!was && complete(s) && --pending === 0) resolveDone();
  };

  const sites = new Tracker<SiteObj>(client, SITE_RESOURCE, undefined, {}, (_type, site, at) => {
    const s = samples.get(keyOf(site));
    if (!s || Number.isNaN(t0)) return;
    const was = complete(s);
    const st = site.status;
    const seen = [st?.primary?.notReadySince, st?.promotion?.startedAt].filter((x): x is string => x !== undefined).map((x) => Date.parse(x) - wallOf(t0));
    // notReadySince older than t0 would be an earlier failure: only this one counts.
    const fresh = seen.filter((x) => x > -1000);
    if (s.observedMs === null && fresh.length > 0) s.observedMs = round(Math.min(...fresh), 1);
    if (s.operatorFencedMs === null && st?.promotion?.fencedAt) s.operatorFencedMs = round(Date.parse(st.promotion.fencedAt) - wallOf(t0), 1);
    if (s.promotedMs === null && st?.promotion?.state === 'Promoted') s.promotedMs = since(at);
    if (st?.promotion?.state === 'Failed') s.error = `promotion failed: ${st.promotion.message ?? ''}`;
    touch(s, was);
  });
  const services = new Tracker<V1Service>(client, R.service, undefined, {}, (_type, svc, at) => {
    const key = trafficOf.get(keyOf(svc));
    const s = key ? samples.get(key) : undefined;
    if (!s || Number.isNaN(t0)) return;
    const was = complete(s);
    if (s.switchMs === null && sameSelector(svc.spec?.selector, standbySelector(byKey.get(key!)!.name))) s.switchMs = since(at);
    touch(s, was);
  });
  const fences = new Tracker<INetworkPolicy>(client, R.networkPolicy, undefined, {}, (type, np, at) => {
    const key = fenceOf.get(keyOf(np));
    const s = key ? samples.get(key) : undefined;
    if (!s || Number.isNaN(t0) || type === 'DELETED') return;
    const was = complete(s);
    if (s.fenceMs === null) s.fenceMs = since(at);
    touch(s, was);
  });
  const slicesOf = new Map<string, Map<string, V1EndpointSlice>>();
  const slices = new Tracker<V1EndpointSlice>(client, R.endpointSlice, undefined, {}, (type, es, at) => {
    const svc = es.metadata?.labels?.['kubernetes.io/service-name'];
    const key = `${es.metadata?.namespace ?? ''}/${svc ?? ''}`;
    const plan = byKey.get(key);
    if (!plan) return;
    let m = slicesOf.get(key);
    if (!m) slicesOf.set(key, (m = new Map<string, V1EndpointSlice>()));
    if (type === 'DELETED') m.delete(es.metadata?.name ?? '');
    else m.set(es.metadata?.name ?? '', es);
    const s = samples.get(key)!;
    if (Number.isNaN(t0)) return;
    const was = complete(s);
    if (s.floorMs === null && !podReadyInSlices(m.values(), `${plan.name}-0`)) s.floorMs = since(at);
    touch(s, was);
  });
  const trackers = [sites, services, fences, slices];
  const timeline: ZoneResult['where']['queueTimeline'] = [];
  let sampling = true;
  // Read through a function: the flag changes in another async path.
  const isSampling = () => sampling;
  try {
    await Promise.all(trackers.map((t) => t.start()));
    for (const [key, p] of byKey) {
      const site = sites.items.get(key);
      if (site?.status?.phase !== 'Protected') throw new Error(`site ${key} is ${site?.status?.phase ?? 'missing'}, not Protected`);
      if (!podReadyInSlices(slicesOf.get(key)?.values() ?? [], `${p.name}-0`)) throw new Error(`pod ${p.name}-0 is not a ready endpoint of Service ${key} before the failure`);
    }
    // One connection per PATCH, opened and kept alive beforehand: the failure is the PATCHes, not
    // TLS handshakes spread over seconds. (undici keeps idle sockets for 4 s.)
    await Promise.all(plans.map((p) => client.get(R.pod, p.namespace, `${p.name}-0`)));
    const m0 = await op.scrape();
    const a0 = await cluster.apiServerMetrics().catch(() => undefined);
    const sockets0 = op.sockets();
    const cpu0 = op.stats().cpuSeconds;
    const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    let lastSent = 0;
    let lastAnswered = 0;
    t0 = now();
    const patches = plans.map((p) => {
      const body = {
        status: {
          conditions: [
            { type: 'Ready', status: 'False', lastTransitionTime: at, reason: 'BenchZoneDown' },
            { type: 'ContainersReady', status: 'False', lastTransitionTime: at },
          ],
        },
      };
      const req = client.request(HttpMethod.PATCH, objectPath(R.pod, p.namespace, `${p.name}-0`, 'status'), {
        verb: 'patch',
        resource: 'pods/status',
        contentType: 'application/strategic-merge-patch+json',
        body,
      });
      lastSent = now() - t0;
      const s = samples.get(`${p.namespace}/${p.name}`)!;
      return req.then(
        () => {
          s.patchAnsweredMs = since(now());
          lastAnswered = Math.max(lastAnswered, s.patchAnsweredMs);
        },
        (err: unknown) => {
          s.error = `patch: ${errorMessage(err)}`;
        },
      );
    });
    void (async () => {
      while (isSampling()) {
        const s = await op.scrape().catch(() => undefined);
        if (s) {
          timeline.push({
            t: round((now() - t0) / 1000, 1),
            ready: metricValue(s, 'standby_workqueue_depth', { state: 'ready' }),
            delayed: metricValue(s, 'standby_workqueue_depth', { state: 'delayed' }),
            inFlight: metricValue(s, 'standby_workqueue_depth', { state: 'in_flight' }),
          });
        }
        await sleep(1000);
      }
    })();
    await Promise.all(patches);
    log(`  ${plans.length} PATCHes sent within ${round(lastSent, 1)} ms, answered within ${round(lastAnswered, 1)} ms`);
    const timedOut = await Promise.race([done.then(() => false), sleep(o.timeoutMs).then(() => true)]);
    if (timedOut) {
      for (const s of samples.values()) {
        const missing = (['observedMs', 'fenceMs', 'switchMs', 'promotedMs', 'floorMs'] as const).filter((k) => s[k] === null);
        if (missing.length) s.error ??= `after ${o.timeoutMs / 1000} s still missing: ${missing.join(', ')}`;
      }
    }
    // The promotions' trailing writes (events, the last status) land within a moment.
    await sleep(2000);
    sampling = false;
    const m1 = await op.scrape();
    const a1 = await cluster.apiServerMetrics().catch(() => undefined);
    const all = [...samples.values()];
    const pick = (f: (s: ZoneSample) => number | null) => summarize(all.map(f).filter((x): x is number => x !== null), 1);
    const diff = (f: (s: ZoneSample) => number | null, g: (s: ZoneSample) => number | null) =>
      pick((s) => {
        const a = f(s);
        const b = g(s);
        return a === null || b === null ? null : b - a;
      });
    const sw = pick((s) => s.switchMs);
    const floor = pick((s) => s.floorMs);
    const ratio = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? round(a / b, 2) : null);
    const promoted = all.filter((s) => s.promotedMs !== null).length;
    const rows = requestDelta(m0, m1);
    const total = rows.reduce((x, r) => x + r.count, 0);
    const writes = countVerbs(rows, WRITE_VERBS);
    const verbs = [...new Set(m1.samples.filter((x) => x.name === 'standby_api_request_duration_seconds_count').map((x) => x.labels.verb ?? ''))];
    const cpu1 = op.isAlive() ? op.stats().cpuSeconds : undefined;
    return {
      n,
      sites: plans.length,
      completed: all.filter(complete).length,
      lastPatchSentMs: round(lastSent, 1),
      lastPatchAnsweredMs: round(lastAnswered, 1),
      within100ms: lastSent <= 100,
      observed: pick((s) => s.observedMs),
      fence: pick((s) => s.fenceMs),
      switch: sw,
      promoted: pick((s) => s.promotedMs),
      floor,
      steps: {
        detect: pick((s) => s.observedMs),
        observedToFence: diff((s) => s.observedMs, (s) => s.fenceMs),
        fenceToSwitch: diff((s) => s.fenceMs, (s) => s.switchMs),
        switchToPromoted: diff((s) => s.switchMs, (s) => s.promotedMs),
      },
      ratio: { p50: ratio(sw.p50, floor.p50), p99: ratio(sw.p99, floor.p99), max: ratio(sw.max, floor.max) },
      requests: {
        total,
        writes,
        perPromotion: promoted > 0 ? round(total / promoted, 1) : null,
        writesPerPromotion: promoted > 0 ? round(writes / promoted, 1) : null,
        byVerbResource: rows,
      },
      where: {
        queueWait: {
          urgent: histogramDelta(m0, m1, 'standby_workqueue_wait_seconds', { lane: 'urgent' }),
          routine: histogramDelta(m0, m1, 'standby_workqueue_wait_seconds', { lane: 'routine' }),
        },
        cacheWait: {
          seen: histogramDelta(m0, m1, 'standby_cache_wait_seconds', { outcome: 'seen' }),
          timeout: histogramDelta(m0, m1, 'standby_cache_wait_seconds', { outcome: 'timeout' }),
        },
        apiAnswer: Object.fromEntries(verbs.map((v) => [v, histogramDelta(m0, m1, 'standby_api_request_duration_seconds', { verb: v })])),
        reconciles: histogramDelta(m0, m1, 'standby_reconcile_duration_seconds'),
        apiServer: a0 && a1 ? serverSide(a0, a1) : null,
        operatorSockets: { before: sockets0 ?? null, after: op.sockets() ?? null },
        operatorCpuSeconds: cpu1 === undefined ? null : round(cpu1 - cpu0, 2),
        queueTimeline: timeline,
      },
      loadAverage: { start: loadStart, end: loadavg().map((x) => round(x, 2)) },
      samples: all,
    };
  } finally {
    sampling = false;
    await Promise.all(trackers.map((t) => t.stop()));
  }
}
