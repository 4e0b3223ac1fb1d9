// Prometheus metrics. Data age is computed at scrape time from the site's
// status timestamps, so it is live without the operator writing anything.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RequestInfo } from '../k8s/client.ts';

export interface SiteSample {
  namespace: string;
  name: string;
  tier: string;
  phase: string | undefined;
  /** Seconds of data a failover would lose now, if known. */
  dataAgeSeconds: number | undefined;
  rpoTargetSeconds: number | undefined;
  fencedPrimaryReturned: boolean;
  /** The newest passed drill's measured RTO and data age, and when it ended (Unix seconds). */
  drillRtoSeconds?: number | undefined;
  drillDataAgeSeconds?: number | undefined;
  drillLastSuccessSeconds?: number | undefined;
  /** The period of spec.drill.schedule (absent without a schedule or while suspended): the overdue alert allows 3 of them. */
  drillSchedulePeriodSeconds?: number | undefined;
  /** The site's conditions (type and status) as last written. */
  conditions: readonly { type: string; status: string }[];
  /** status.promotion.state, if the site has a promotion record. */
  promotionState: string | undefined;
  /** status.cost: the standby's requests (cores, bytes) and the storage its copies hold (bytes). */
  reservedCpuCores?: number | undefined;
  reservedMemoryBytes?: number | undefined;
  copyStorageBytes?: number | undefined;
}

const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;

export class Metrics {
  readonly registry = new Registry();
  readonly reconciles: Counter<'result'>;
  readonly reconcileSeconds: Histogram;
  readonly apiRequests: Counter<'verb' | 'resource' | 'code'>;
  readonly promotions: Counter<'tier' | 'result' | 'trigger'>;
  readonly promotionSeconds: Histogram<'tier'>;
  readonly drills: Counter<'tier' | 'result' | 'trigger'>;
  readonly failbacks: Counter<'tier' | 'result' | 'trigger'>;
  readonly failbackSeconds: Histogram<'tier'>;
  readonly reprotections: Counter<'tier' | 'result'>;
  readonly reprotectSeconds: Histogram<'tier'>;
  readonly leader: Gauge;
  readonly apiRequestSeconds: Histogram<'verb'>;
  readonly queueWaitSeconds: Histogram<'lane'>;
  readonly cacheWaitSeconds: Histogram<'outcome'>;
  readonly watchErrors: Counter<'resource' | 'kind'>;
  readonly witnessReachable: Gauge<'namespace' | 'site'>;
  readonly leaseTakeovers: Counter<'namespace' | 'site'>;

  constructor(sources: { queue: () => { depth: number; delayed: number; inFlight: number }; sites: () => SiteSample[] }) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'standby_operator_' });
    this.reconciles = new Counter({ name: 'standby_reconcile_total', help: 'Reconciles by result (success, error, requeue).', labelNames: ['result'], registers: [r] });
    this.reconcileSeconds = new Histogram({
      name: 'standby_reconcile_duration_seconds',
      help: 'Time one reconcile took.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [r],
    });
    this.apiRequests = new Counter({
      name: 'standby_api_requests_total',
      help: 'Requests the operator made to the Kubernetes API, by verb, resource and HTTP code.',
      labelNames: ['verb', 'resource', 'code'],
      registers: [r],
    });
    // Where a burst's time goes (bench/zone.ts reads these): the API's answer time as this client
    // sees it (server time, network, and any wait for a connection), the queue, our own writes' echo.
    const latency = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    this.apiRequestSeconds = new Histogram({
      name: 'standby_api_request_duration_seconds',
      help: 'Time from sending a request to the Kubernetes API to its whole answer, by verb (watches left out: they last minutes).',
      labelNames: ['verb'],
      buckets: latency,
      registers: [r],
    });
    this.queueWaitSeconds = new Histogram({
      name: 'standby_workqueue_wait_seconds',
      help: 'Time a site waited in the work queue before a worker took it, by lane (urgent: a failed primary or a promotion; routine).',
      labelNames: ['lane'],
      buckets: [0.001, ...latency],
      registers: [r],
    });
    this.cacheWaitSeconds = new Histogram({
      name: 'standby_cache_wait_seconds',
      help: "Time a reconcile was put off until the watch delivered this process's own status write (outcome seen, or timeout after 10 s).",
      labelNames: ['outcome'],
      buckets: latency,
      registers: [r],
    });
    this.promotions = new Counter({
      name: 'standby_promotions_total',
      help: 'Promotions by tier, result (Promoted, Failed) and trigger (automatic, manual, forced).',
      labelNames: ['tier', 'result', 'trigger'],
      registers: [r],
    });
    this.promotionSeconds = new Histogram({
      name: 'standby_promotion_duration_seconds',
      help: 'Time from the start of a promotion (threshold elapsed or request) to traffic switched.',
      labelNames: ['tier'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [r],
    });
    this.drills = new Counter({
      name: 'standby_drills_total',
      help: 'Drills that ended, by tier, result (Passed, Failed, Aborted) and trigger (scheduled, manual).',
      labelNames: ['tier', 'result', 'trigger'],
      registers: [r],
    });
    this.failbacks = new Counter({
      name: 'standby_failbacks_total',
      help: 'Failbacks to the declared primary by tier, result (Promoted, Failed) and trigger (automatic, manual, forced).',
      labelNames: ['tier', 'result', 'trigger'],
      registers: [r],
    });
    this.failbackSeconds = new Histogram({
      name: 'standby_failback_duration_seconds',
      help: 'Time from the start of a failback (the standby fenced) to traffic back on the primary.',
      labelNames: ['tier'],
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
      registers: [r],
    });
    this.reprotections = new Counter({
      name: 'standby_reprotections_total',
      help: 'Re-protections (the other side made a standby of the serving one) by tier and result (Protected, Failed).',
      labelNames: ['tier', 'result'],
      registers: [r],
    });
    this.reprotectSeconds = new Histogram({
      name: 'standby_reprotect_duration_seconds',
      help: 'Time a re-protection took, from its start to the other side following.',
      labelNames: ['tier'],
      buckets: [1, 5, 10, 30, 60, 300, 900, 3600, 14400],
      registers: [r],
    });
    this.witnessReachable = new Gauge({
      name: 'standby_site_witness_reachable',
      help: "Automatic site failover: 1 when the witness answered this site's last read of its lease, 0 when it did not.",
      labelNames: ['namespace', 'site'],
      registers: [r],
    });
    this.leaseTakeovers = new Counter({
      name: 'standby_site_lease_takeovers_total',
      help: "Automatic site failover: the witness's lease taken over by this (the standby's) site.",
      labelNames: ['namespace', 'site'],
      registers: [r],
    });
    this.leader = new Gauge({ name: 'standby_leader', help: '1 when this replica holds the leader lease.', registers: [r] });
    this.watchErrors = new Counter({
      name: 'standby_watch_errors_total',
      help: 'Failed lists and watches by resource: kind "gone" (410, re-listed) or "error" (retried with backoff).',
      labelNames: ['resource', 'kind'],
      registers: [r],
    });
    new Gauge({
      name: 'standby_workqueue_depth',
      help: 'Sites waiting to be reconciled (ready, delayed, in flight).',
      labelNames: ['state'],
      registers: [r],
      collect() {
        const q = sources.queue();
        this.set({ state: 'ready' }, q.depth);
        this.set({ state: 'delayed' }, q.delayed);
        this.set({ state: 'in_flight' }, q.inFlight);
      },
    });
    const siteGauge = (name: string, help: string, pick: (s: SiteSample) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ['namespace', 'site', 'tier'],
        registers: [r],
        collect() {
          this.reset();
          for (const s of sources.sites()) {
            const v = pick(s);
            if (v !== undefined) this.set({ namespace: s.namespace, site: s.name, tier: s.tier }, v);
          }
        },
      });
    siteGauge('standby_site_data_age_seconds', 'Data a failover would lose now: standby data age (warm, cold) or replication lag (hot).', (s) => s.dataAgeSeconds);
    siteGauge('standby_site_rpo_target_seconds', 'The RPO target in effect for the site.', (s) => s.rpoTargetSeconds);
    siteGauge('standby_drill_rto_seconds', "The RTO the site's newest passed drill measured: start to a Ready, verified scratch copy.", (s) => s.drillRtoSeconds);
    siteGauge('standby_drill_data_age_seconds', "How old the data of the site's newest passed drill was when it began.", (s) => s.drillDataAgeSeconds);
    siteGauge('standby_drill_last_success_timestamp_seconds', "When the site's newest passed drill ended (Unix time).", (s) => s.drillLastSuccessSeconds);
    siteGauge('standby_drill_schedule_period_seconds', 'The period of spec.drill.schedule; absent without a schedule or while it is suspended.', (s) => s.drillSchedulePeriodSeconds);
    siteGauge('standby_site_reserved_cpu_cores', "CPU cores the standby's pods request now (status.cost.cpu).", (s) => s.reservedCpuCores);
    siteGauge('standby_site_reserved_memory_bytes', "Bytes of memory the standby's pods request now (status.cost.memory).", (s) => s.reservedMemoryBytes);
    siteGauge('standby_site_copy_storage_bytes', 'Bytes held by the copies, snapshots and dumps the site keeps (status.cost.storage).', (s) => s.copyStorageBytes);
    siteGauge('standby_site_fenced_primary_returned', '1 when a fenced old primary came back (e.g. a GitOps revert).', (s) => (s.fencedPrimaryReturned ? 1 : 0));
    // As kube-state-metrics exports conditions: one series per status, 1 for the current one, so
    // that an alert on status="False" sees 0 rather than nothing while the condition holds.
    new Gauge({
      name: 'standby_site_condition',
      help: "The site's status conditions: 1 for the condition's current status (True, False or Unknown), 0 for the others.",
      labelNames: ['namespace', 'site', 'tier', 'condition', 'status'],
      registers: [r],
      collect() {
        this.reset();
        for (const s of sources.sites()) {
          for (const c of s.conditions) {
            for (const status of CONDITION_STATUSES) {
              this.set({ namespace: s.namespace, site: s.name, tier: s.tier, condition: c.type, status }, c.status === status ? 1 : 0);
            }
          }
        }
      },
    });
    new Gauge({
      name: 'standby_site_promotion_state',
      help: "1 for the state of the site's running or last promotion (Fencing, Promoting, Switching, Promoted, Failed); absent when it never had one.",
      labelNames: ['namespace', 'site', 'tier', 'state'],
      registers: [r],
      collect() {
        this.reset();
        for (const s of sources.sites()) {
          if (s.promotionState) this.set({ namespace: s.namespace, site: s.name, tier: s.tier, state: s.promotionState }, 1);
        }
      },
    });
    new Gauge({
      name: 'standby_site_phase',
      help: 'Number of sites per phase.',
      labelNames: ['phase'],
      registers: [r],
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const s of sources.sites()) counts.set(s.phase ?? 'Unknown', (counts.get(s.phase ?? 'Unknown') ?? 0) + 1);
        for (const [phase, n] of counts) this.set({ phase }, n);
      },
    });
  }

  /**
   * Creates the counters' series at 0 before anything happened, so that rate() and increase()
   * count the first promotion or watch error too (a series born at 1 shows no increase) and
   * dashboards show 0 rather than no data.
   */
  initialize(o: { tiers: readonly string[]; watchedResources: readonly string[] }): void {
    for (const tier of o.tiers) {
      this.promotionSeconds.zero({ tier });
      for (const result of ['Promoted', 'Failed']) for (const trigger of ['automatic', 'manual', 'forced']) this.promotions.inc({ tier, result, trigger }, 0);
    }
    for (const resource of o.watchedResources) for (const kind of ['gone', 'error']) this.watchErrors.inc({ resource, kind }, 0);
  }

  onRequest = (info: RequestInfo): void => {
    this.apiRequests.inc({ verb: info.verb, resource: info.resource, code: String(info.status) });
    if (info.verb !== 'watch') this.apiRequestSeconds.observe({ verb: info.verb }, info.seconds);
  };
}
