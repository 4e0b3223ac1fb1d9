// Convergence: N StandbySites created (bounded concurrency) against primaries
// and copies that already exist; timed from the first create to the moment
// every site's status.phase is Protected (watched, not polled). The operator's
// own figures (API requests by verb and resource, reconciles, queue depth) come
// from its /metrics; CPU and RSS from /proc.
import type { V1Pod } from '@kubernetes/client-node';
import type { StandbySiteObject } from '../src/api/site.ts';
import type { SiteStatus } from '../src/api/status.ts';
import { SITE_RESOURCE } from '../src/api/resource.ts';
import { R } from '../src/k8s/resources.ts';
import { LABEL_ROLE, LABEL_SITE } from '../src/site/names.ts';
import type { BenchCluster } from './cluster.ts';
import { deadline, log, mapLimit, MiB, now, round, sleep, summarize, TimeoutError, type Summary } from './common.ts';
import { BENCH_LABEL, createObject, siteObject, type Schedule, type SitePlan, type Tier } from './fixtures.ts';
import {
  byVerb,
  countVerbs,
  metricValue,
  READ_VERBS,
  requestDelta,
  WRITE_VERBS,
  type OperatorProcess,
  type RequestCount,
  machineCpu,
  type Sample,
  type Scrape,
} from './operator-process.ts';
import { Tracker } from './watch.ts';

export interface TimelinePoint {
  /** Seconds since the first create. */
  t: number;
  protected: number;
  queueReady: number;
  queueDelayed: number;
  inFlight: number;
  operatorCpuSeconds: number;
  operatorRssMiB: number;
  operatorSockets: number | null;
}

export interface LimitVerdict {
  limitedBy: 'api-server' | 'control-plane' | 'operator-cpu' | 'operator-queue' | 'machine-cpu';
  /** null: cannot be told on this machine (its CPUs were saturated). */
  met: boolean | null;
  explanation: string;
}

export interface ServerSideRow {
  verb: string;
  resource: string;
  count: number;
  /** kube-apiserver's own handling time (apiserver_request_duration_seconds), mean. */
  meanMs: number;
}

/** Requests kube-apiserver handled during convergence, from all clients (APPLY is server-side apply: the operator). */
export function serverSide(a: Sample[], b: Sample[]): { rows: ServerSideRow[]; apfWaitMeanMs: number | null } {
  const key = (l: Record<string, string>) => `${l.verb ?? ''}|${l.resource ?? ''}${l.subresource ? `/${l.subresource}` : ''}`;
  const sums = (samples: Sample[], name: string) => {
    const m = new Map<string, number>();
    for (const x of samples) {
      if (x.name !== name || x.labels.verb === 'WATCH' || x.labels.verb === 'CONNECT') continue;
      m.set(key(x.labels), (m.get(key(x.labels)) ?? 0) + x.value);
    }
    return m;
  };
  const c0 = sums(a, 'apiserver_request_duration_seconds_count');
  const c1 = sums(b, 'apiserver_request_duration_seconds_count');
  const s0 = sums(a, 'apiserver_request_duration_seconds_sum');
  const s1 = sums(b, 'apiserver_request_duration_seconds_sum');
  const rows: ServerSideRow[] = [];
  for (const [k, c] of c1) {
    const count = c - (c0.get(k) ?? 0);
    if (count <= 0) continue;
    const [verb = '', resource = ''] = k.split('|');
    rows.push({ verb, resource, count, meanMs: round(((s1.get(k) ?? 0) - (s0.get(k) ?? 0)) / count * 1000, 2) });
  }
  rows.sort((x, y) => y.count - x.count);
  const total = (samples: Sample[], name: string) =>
    samples.filter((x) => x.name === name && x.labels.execute === 'true').reduce((acc, x) => acc + x.value, 0);
  const wc = total(b, 'apiserver_flowcontrol_request_wait_duration_seconds_count') - total(a, 'apiserver_flowcontrol_request_wait_duration_seconds_count');
  const ws = total(b, 'apiserver_flowcontrol_request_wait_duration_seconds_sum') - total(a, 'apiserver_flowcontrol_request_wait_duration_seconds_sum');
  return { rows: rows.slice(0, 20), apfWaitMeanMs: wc > 0 ? round((ws / wc) * 1000, 2) : null };
}

export interface ConvergenceResult {
  n: number;
  tiers: Record<string, number>;
  ok: boolean;
  error?: string;
  /** First create to the last create answered. */
  createSeconds: number;
  /** First create to every site Protected. */
  convergenceSeconds: number | null;
  sitesPerSecond: number | null;
  protectedAtEnd: number;
  /** Sites not Protected at the end, by phase and Ready reason (on failure). */
  notProtected?: Record<string, number>;
  /** Seconds from a site's create to its first Protected, per tier. */
  timeToProtected: Record<string, Summary>;
  /** Hot sites: seconds from the standby pod turning Ready (watch) to the site showing Protected (watch). */
  hotStandbyReadyToProtected: Summary;
  /** Quiet time after convergence before the counters were read (queue empty, no new writes). */
  settleSeconds: number;
  requests: {
    total: number;
    reads: number;
    writes: number;
    perSite: number;
    perSiteByVerb: Record<string, number>;
    /** Non-zero rows: verb, resource, HTTP code, count. */
    byVerbResource: RequestCount[];
    /** Requests answered 429 (API priority and fairness) and 5xx. */
    throttled429: number;
    errors5xx: number;
    conflicts409: number;
  };
  reconciles: { total: number; perSite: number; errors: number; meanMs: number | null };
  cpu: {
    operatorSeconds: number;
    operatorCores: number;
    controlPlaneSeconds: Record<string, number>;
    controlPlaneCores: number;
    benchSeconds: number;
    /** All CPUs of the machine (other work on it included): busy time over the window. */
    machineBusyFraction: number | null;
  };
  queue: { samples: number; saturatedFraction: number; busyFraction: number; maxReady: number; workers: number };
  operatorSocketsMax: number | null;
  /**
   * Status updates the bench's watch saw (first write included), per site by tier, and which
   * status fields changed in them (conditions by type): where the status writes come from.
   */
  statusUpdates: { perSite: Record<string, number>; changedFields: Record<string, number> };
  /** What kube-apiserver itself saw (all clients): requests and its mean handling time by verb and resource; APF queue wait. */
  apiServer: { rows: ServerSideRow[]; apfWaitMeanMs: number | null } | null;
  metricsScrapes: { count: number; meanMs: number };
  verdict: LimitVerdict;
  timeline: TimelinePoint[];
}

export interface ConvergenceOptions {
  createConcurrency: number;
  timeoutMs: number;
  /** The operator's worker count (its default CONCURRENCY); null: the most reconciles seen in flight. */
  workers: number | null;
  sampleMs?: number;
}

export interface Converged {
  result: ConvergenceResult;
  /** The last scrape (after settling). */
  scrape: Scrape;
}

type SiteObj = StandbySiteObject & { metadata: { name: string; namespace: string } };

/** Creates the sites and waits for all of them to be Protected. */
export async function measureConvergence(
  cluster: BenchCluster,
  op: OperatorProcess,
  plans: readonly SitePlan[],
  schedule: Schedule,
  o: ConvergenceOptions,
): Promise<Converged> {
  const client = cluster.client;
  const n = plans.length;
  const tierOf = new Map<string, string>(plans.map((p) => [`${p.namespace}/${p.name}`, p.failover ? 'failover' : p.tier]));
  const createdAt = new Map<string, number>();
  const firstProtected = new Map<string, number>();
  const protectedNow = new Set<string>();
  const standbyReadyAt = new Map<string, number>();
  let resolveAll!: (at: number) => void;
  const allProtected = new Promise<number>((resolve) => (resolveAll = resolve));

  const lastStatus = new Map<string, SiteStatus | undefined>();
  const statusWrites = new Map<string, number>();
  const changed = new Map<string, number>();
  const sites = new Tracker<SiteObj>(client, SITE_RESOURCE, undefined, { labelSelector: BENCH_LABEL }, (type, s, at) => {
    const key = `${s.metadata.namespace}/${s.metadata.name}`;
    if (type === 'MODIFIED' && state.counting) {
      const prev = lastStatus.get(key);
      const fields = statusChanges(prev, s.status);
      if (fields.length > 0) {
        const tier = tierOf.get(key) ?? '?';
        statusWrites.set(tier, (statusWrites.get(tier) ?? 0) + 1);
        for (const f of fields) changed.set(`${tier}: ${f}`, (changed.get(`${tier}: ${f}`) ?? 0) + 1);
      }
    }
    lastStatus.set(key, s.status);
    if (type !== 'DELETED' && s.status?.phase === 'Protected') {
      protectedNow.add(key);
      if (!firstProtected.has(key)) firstProtected.set(key, at);
    } else {
      protectedNow.delete(key);
    }
    if (protectedNow.size === n) resolveAll(at);
  });
  const standbyPods = new Tracker<V1Pod>(client, R.pod, undefined, { labelSelector: `${LABEL_ROLE}=standby` }, (type, p, at) => {
    const site = p.metadata?.labels?.[LABEL_SITE];
    if (type === 'DELETED' || !site) return;
    const key = `${p.metadata?.namespace ?? ''}/${site}`;
    const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    if (ready && !standbyReadyAt.has(key)) standbyReadyAt.set(key, at);
  });
  await sites.start();
  await standbyPods.start();

  const scrapes: number[] = [];
  const scrape = async (): Promise<Scrape> => {
    const s = await op.scrape();
    scrapes.push(s.ms);
    return s;
  };
  const a0 = await cluster.apiServerMetrics().catch(() => undefined);
  const m0 = await scrape();
  const c0 = op.stats();
  const cp0 = cluster.cpuSeconds();
  const b0 = process.cpuUsage();
  const mc0 = machineCpu();

  log(`creating ${n} StandbySites, ${o.createConcurrency} in flight`);
  const t0 = now();
  const timeline: TimelinePoint[] = [];
  const state = { converged: false, createsDone: false, counting: true };
  const isConverged = () => state.converged;
  const sampler = (async () => {
    while (!isConverged()) {
      // A scrape costs the operator CPU that grows with N (per-site gauges): keep scrapes under
      // ~10 % of the time, so that sampling does not slow down what it measures.
      const lastScrape = scrapes[scrapes.length - 1] ?? 0;
      await Promise.race([sleep(Math.max(o.sampleMs ?? 5000, lastScrape * 10)), allProtected]);
      if (isConverged()) break;
      try {
        const s = await scrape();
        const st = op.stats();
        timeline.push({
          t: round((now() - t0) / 1000, 1),
          protected: protectedNow.size,
          queueReady: metricValue(s, 'standby_workqueue_depth', { state: 'ready' }),
          queueDelayed: metricValue(s, 'standby_workqueue_depth', { state: 'delayed' }),
          inFlight: metricValue(s, 'standby_workqueue_depth', { state: 'in_flight' }),
          operatorCpuSeconds: round(st.cpuSeconds - c0.cpuSeconds, 2),
          operatorRssMiB: round(st.rssBytes / MiB, 1),
          operatorSockets: op.sockets() ?? null,
        });
        const last = timeline[timeline.length - 1]!;
        if (timeline.length % 6 === 0) {
          log(`  t=${last.t}s protected ${last.protected}/${n}, queue ready ${last.queueReady} in flight ${last.inFlight}, operator CPU ${last.operatorCpuSeconds}s RSS ${last.operatorRssMiB} MiB${state.createsDone ? '' : ' (still creating)'}`);
        }
      } catch (err) {
        if (!op.isAlive()) throw err;
      }
    }
  })();

  let createSeconds = 0;
  let error: string | undefined;
  let tEnd: number | undefined;
  try {
    await mapLimit(plans, o.createConcurrency, async (p) => {
      createdAt.set(`${p.namespace}/${p.name}`, now());
      await createObject(client, siteObject(p, schedule));
    });
    state.createsDone = true;
    createSeconds = (now() - t0) / 1000;
    log(`  ${n} sites created in ${round(createSeconds, 1)} s`);
    const timeout = deadline(Math.max(0, o.timeoutMs - (now() - t0))).then(() => undefined);
    const exited = op.exited.then(() => -1);
    const at = await Promise.race([allProtected, timeout, exited]);
    if (at === undefined) throw new TimeoutError(`not every site was Protected after ${Math.round(o.timeoutMs / 60_000)} min (${protectedNow.size}/${n})`);
    if (at === -1) throw new Error(`the operator exited during convergence; see ${op.logFile}`);
    tEnd = at;
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  } finally {
    state.converged = true;
    await sampler.catch(() => undefined);
  }
  const convergenceSeconds = tEnd === undefined ? null : (tEnd - t0) / 1000;
  if (convergenceSeconds !== null) log(`  all ${n} sites Protected after ${round(convergenceSeconds, 1)} s`);

  // Settle: the queue empty and no new writes for one sampling interval (at most 60 s).
  const tSettle = now();
  let last = op.isAlive() ? await scrape() : m0;
  const c1 = op.isAlive() ? op.stats() : c0;
  const cp1 = cluster.cpuSeconds();
  const b1 = process.cpuUsage(b0);
  const mc1 = machineCpu();
  const a1 = await cluster.apiServerMetrics().catch(() => undefined);
  const windowSeconds = ((tEnd ?? now()) - t0) / 1000;
  for (let i = 0; i < 12 && op.isAlive(); i++) {
    await sleep(5000);
    const s = await scrape();
    const queue = metricValue(s, 'standby_workqueue_depth', { state: 'ready' }) + metricValue(s, 'standby_workqueue_depth', { state: 'in_flight' });
    const writes = countVerbs(requestDelta(last, s), WRITE_VERBS);
    last = s;
    if (queue === 0 && writes === 0) break;
  }
  const settleSeconds = (now() - tSettle) / 1000;
  state.counting = false;
  await sites.stop();
  await standbyPods.stop();

  const rows = requestDelta(m0, last);
  const total = rows.reduce((a, r) => a + r.count, 0);
  const perVerb = byVerb(rows);
  const perSiteByVerb = Object.fromEntries(Object.entries(perVerb).map(([k, v]) => [k, round(v / n, 2)]));
  const reconciles = metricValue(last, 'standby_reconcile_total') - metricValue(m0, 'standby_reconcile_total');
  const reconcileErrors = metricValue(last, 'standby_reconcile_total', { result: 'error' }) - metricValue(m0, 'standby_reconcile_total', { result: 'error' });
  const rSum = metricValue(last, 'standby_reconcile_duration_seconds_sum') - metricValue(m0, 'standby_reconcile_duration_seconds_sum');
  const rCount = metricValue(last, 'standby_reconcile_duration_seconds_count') - metricValue(m0, 'standby_reconcile_duration_seconds_count');

  const ttp = new Map<string, number[]>([['all', []]]);
  for (const [key, at] of firstProtected) {
    const start = createdAt.get(key);
    const tier = tierOf.get(key);
    if (start === undefined || tier === undefined) continue;
    for (const k of [tier, 'all']) {
      const list = ttp.get(k) ?? [];
      list.push((at - start) / 1000);
      ttp.set(k, list);
    }
  }
  const hotLag: number[] = [];
  for (const [key, readyAt] of standbyReadyAt) {
    const at = firstProtected.get(key);
    if (at !== undefined && at >= readyAt) hotLag.push((at - readyAt) / 1000);
  }

  const countOf = (tier: string) => [...tierOf.values()].filter((t) => t === tier).length;
  const cpDelta: Record<string, number> = {};
  for (const [k, v] of Object.entries(cp1)) cpDelta[k] = round(v - (cp0[k] ?? 0), 1);
  const cpTotal = Object.values(cpDelta).reduce((a, b) => a + b, 0);
  const samples = timeline.length;
  const workers = o.workers ?? Math.max(1, ...timeline.map((p) => p.inFlight));
  const saturated = timeline.filter((p) => p.queueReady > 0 && p.inFlight >= workers).length;
  const busy = timeline.filter((p) => p.inFlight > 0).length;
  const operatorSeconds = c1.cpuSeconds - c0.cpuSeconds;
  const code = (prefix: string) => rows.filter((r) => r.code.startsWith(prefix)).reduce((a, r) => a + r.count, 0);
  const throttled = code('429');
  const queue = {
    samples,
    saturatedFraction: samples ? round(saturated / samples, 2) : 0,
    busyFraction: samples ? round(busy / samples, 2) : 0,
    maxReady: Math.max(0, ...timeline.map((p) => p.queueReady)),
    workers,
  };
  const cpu = {
    operatorSeconds: round(operatorSeconds, 1),
    operatorCores: windowSeconds > 0 ? round(operatorSeconds / windowSeconds, 2) : 0,
    controlPlaneSeconds: cpDelta,
    controlPlaneCores: windowSeconds > 0 ? round(cpTotal / windowSeconds, 2) : 0,
    benchSeconds: round((b1.user + b1.system) / 1e6, 1),
    machineBusyFraction: mc1.total > mc0.total ? round((mc1.busy - mc0.busy) / (mc1.total - mc0.total), 2) : null,
  };

  const notProtected: Record<string, number> = {};
  if (error) {
    for (const s of sites.items.values()) {
      if (s.status?.phase === 'Protected') continue;
      const ready = s.status?.conditions?.find((c) => c.type === 'Ready');
      const k = `${s.status?.phase ?? 'no status'}${ready?.reason ? `/${ready.reason}` : ''}`;
      notProtected[k] = (notProtected[k] ?? 0) + 1;
    }
  }

  const result: ConvergenceResult = {
    n,
    tiers: Object.fromEntries([...tierOf.values()].reduce((m, t) => m.set(t, (m.get(t) ?? 0) + 1), new Map<string, number>())),
    ok: error === undefined,
    ...(error ? { error, notProtected } : {}),
    createSeconds: round(createSeconds, 1),
    convergenceSeconds: convergenceSeconds === null ? null : round(convergenceSeconds, 1),
    sitesPerSecond: convergenceSeconds ? round(n / convergenceSeconds, 1) : null,
    protectedAtEnd: protectedNow.size,
    timeToProtected: Object.fromEntries([...ttp.entries()].map(([k, v]) => [k, summarize(v, 2)])),
    hotStandbyReadyToProtected: summarize(hotLag, 3),
    settleSeconds: round(settleSeconds, 1),
    requests: {
      total,
      reads: countVerbs(rows, READ_VERBS),
      writes: countVerbs(rows, WRITE_VERBS),
      perSite: round(total / n, 2),
      perSiteByVerb,
      byVerbResource: rows,
      throttled429: throttled,
      errors5xx: code('5'),
      conflicts409: code('409'),
    },
    reconciles: { total: reconciles, perSite: round(reconciles / n, 2), errors: reconcileErrors, meanMs: rCount ? round((rSum / rCount) * 1000, 2) : null },
    cpu,
    queue,
    operatorSocketsMax: timeline.some((p) => p.operatorSockets !== null) ? Math.max(...timeline.map((p) => p.operatorSockets ?? 0)) : null,
    apiServer: a0 && a1 ? serverSide(a0, a1) : null,
    statusUpdates: {
      perSite: Object.fromEntries([...statusWrites].map(([tier, c]) => [tier, round(c / Math.max(1, countOf(tier)), 2)])),
      changedFields: Object.fromEntries([...changed].sort((a, b) => b[1] - a[1])),
    },
    metricsScrapes: { count: scrapes.length, meanMs: round(scrapes.reduce((a, b) => a + b, 0) / Math.max(1, scrapes.length), 1) },
    verdict: verdictOf(throttled, queue, cpu),
    timeline,
  };
  return { result, scrape: last };
}

/** The status fields that differ (top level; conditions by type, without lastTransitionTime noise). */
export function statusChanges(a: SiteStatus | undefined, b: SiteStatus | undefined): string[] {
  const out: string[] = [];
  const ra = (a ?? {}) as Record<string, unknown>;
  const rb = (b ?? {}) as Record<string, unknown>;
  for (const k of new Set([...Object.keys(ra), ...Object.keys(rb)])) {
    if (k === 'conditions') continue;
    if (JSON.stringify(ra[k]) !== JSON.stringify(rb[k])) {
      const x = ra[k];
      const y = rb[k];
      const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
      const inner = isObj(x) && isObj(y) ? Object.keys({ ...x, ...y }).filter((f) => JSON.stringify(x[f]) !== JSON.stringify(y[f])) : [];
      out.push(inner.length ? `${k}.{${inner.join(',')}}` : k);
    }
  }
  const ca = new Map((a?.conditions ?? []).map((c) => [c.type, c]));
  for (const c of b?.conditions ?? []) {
    const p = ca.get(c.type);
    if (!p) out.push(`conditions.${c.type}(new)`);
    else if (p.status !== c.status || p.reason !== c.reason) out.push(`conditions.${c.type}.status/reason`);
    else if (p.message !== c.message) out.push(`conditions.${c.type}.message`);
  }
  return out;
}

/**
 * What limited convergence, from the evidence at hand: 429s mean the API server
 * pushed back; a full queue with the operator's thread busy means the operator's
 * CPU; a full queue with the thread mostly idle means the workers wait on API
 * calls (more workers would go faster unless the API server is saturated); an
 * empty queue while sites wait means Kubernetes' controllers (StatefulSet,
 * scheduler, kwok, storage) set the pace.
 */
function verdictOf(
  throttled: number,
  q: ConvergenceResult['queue'],
  cpu: ConvergenceResult['cpu'],
): LimitVerdict {
  const busy = cpu.machineBusyFraction;
  const facts = `queue full (ready > 0, ${q.workers} workers busy) in ${Math.round(q.saturatedFraction * 100)} % of samples, workers busy in ${Math.round(q.busyFraction * 100)} %; operator ${cpu.operatorCores} cores, control plane ${cpu.controlPlaneCores} cores, machine CPUs ${busy === null ? '?' : Math.round(busy * 100)} % busy`;
  if (throttled > 0) {
    return { limitedBy: 'api-server', met: true, explanation: `the API server answered ${throttled} requests with 429 (priority and fairness); ${facts}` };
  }
  if (q.saturatedFraction >= 0.5 && cpu.operatorCores >= 0.8) {
    return { limitedBy: 'operator-cpu', met: false, explanation: `the operator's Node.js thread was the bottleneck: ${facts}` };
  }
  if (q.saturatedFraction >= 0.5 && busy !== null && busy >= 0.9) {
    return {
      limitedBy: 'machine-cpu',
      met: null,
      explanation: `every worker was waiting on an API call while keys queued up, but the machine's CPUs were saturated (API latencies inflated by contention), so API server and queue limits cannot be told apart here: ${facts}`,
    };
  }
  if (q.saturatedFraction >= 0.5) {
    return {
      limitedBy: 'operator-queue',
      met: false,
      explanation: `every worker was waiting on an API call while keys queued up: the worker pool (CONCURRENCY) bounded the requests in flight, and the machine's CPUs had room for more: ${facts}`,
    };
  }
  return {
    limitedBy: 'control-plane',
    met: true,
    explanation: `the operator kept up (its queue was mostly empty) while sites waited for Kubernetes' controllers (StatefulSet, scheduler, kwok, storage) to start hot standbys: ${facts}`,
  };
}

export type { Tier };
