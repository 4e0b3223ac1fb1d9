// The metrics the controller records. Declared here, implemented by the process (prom-client), so
// the controller depends on no metrics library and tests can pass their own.
export interface ControllerMetrics {
  reconciles: { inc(labels: { result: 'success' | 'error' }): void };
  reconcileSeconds: { observe(seconds: number): void };
  promotions: { inc(labels: { tier: string; result: string; trigger: string }): void };
  promotionSeconds: { observe(labels: { tier: string }, seconds: number): void };
  /** Drills that ended, by tier, result (Passed, Failed, Aborted) and trigger (scheduled, manual). */
  drills: { inc(labels: { tier: string; result: string; trigger: string }): void };
  failbacks: { inc(labels: { tier: string; result: string; trigger: string }): void };
  failbackSeconds: { observe(labels: { tier: string }, seconds: number): void };
  reprotections: { inc(labels: { tier: string; result: string }): void };
  reprotectSeconds: { observe(labels: { tier: string }, seconds: number): void };
  /** Automatic site failover: whether the witness answered the last read (1) or not (0). */
  witnessReachable?: { set(labels: { namespace: string; site: string }, value: number): void };
  /** Automatic site failover: the witness's lease taken over by this site. */
  leaseTakeovers?: { inc(labels: { namespace: string; site: string }): void };
  /** How long a key waited in the work queue before a worker took it, by lane (urgent, routine). */
  queueWaitSeconds?: { observe(labels: { lane: 'urgent' | 'routine' }, seconds: number): void };
  /** How long a reconcile was put off until the cache showed this process's own status write. */
  cacheWaitSeconds?: { observe(labels: { outcome: 'seen' | 'timeout' }, seconds: number): void };
}
