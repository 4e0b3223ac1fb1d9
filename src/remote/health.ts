// Can the operator reach the primary's cluster? A pure state machine over probe results: the
// health a reconcile reads (status.primarySite, PrimaryHealthy=Unknown, the site-lost gate).
// Unreachable is not NotReady: it never starts the failure clock, and only a person's
// site-lost-... token promotes on it (controller/remote-gate.ts).

export type ProbeResult =
  | { ok: true }
  /**
   * `unanswered`: no answer (timeout, connection refused or reset: the site may be lost or cut off).
   * `refused`: the API server answered but refused the operator (401, 403, 5xx): the site is up.
   */
  | { ok: false; kind: 'unanswered' | 'refused'; error: string };

export interface RemoteHealth {
  /** For decisions: the last probes answered and the caches were listed afresh since. */
  reachable: boolean;
  /** When `reachable` last changed (or when watching began). */
  since: Date;
  /** Why, while not reachable. */
  lastError: string | undefined;
  /** Not reachable, but the API server answers (it refuses us): the site is not lost. */
  answering: boolean;
  /** Consecutive failed probes, and when the first of them was. */
  failures: number;
  firstFailure: Date | undefined;
  /** The last probe answered, but the fresh caches are not listed yet. */
  resyncing: boolean;
}

/** Failed probes in a row before the cluster counts as unreachable: one lost probe is a blip. */
export const FAILURES_TO_UNREACHABLE = 2;

export function initialHealth(now: Date): RemoteHealth {
  return { reachable: false, since: now, lastError: 'not contacted yet', answering: false, failures: 0, firstFailure: undefined, resyncing: true };
}

/**
 * The health after a probe. A probe that answers after failures does not make the cluster
 * reachable by itself: the caches may have missed changes while the watches hung, so they are
 * listed afresh first (`resyncing`, then `synced`).
 */
export function afterProbe(h: RemoteHealth, r: ProbeResult, now: Date): RemoteHealth {
  if (r.ok) {
    if (h.reachable) return h.failures === 0 ? h : { ...h, failures: 0, firstFailure: undefined };
    return { ...h, failures: 0, firstFailure: undefined, answering: true, resyncing: true };
  }
  const failures = h.failures + 1;
  const firstFailure = h.firstFailure ?? now;
  if (h.reachable && failures < FAILURES_TO_UNREACHABLE) return { ...h, failures, firstFailure };
  const next: RemoteHealth = {
    ...h,
    failures,
    firstFailure,
    lastError: r.error,
    answering: r.kind === 'refused',
    resyncing: false,
  };
  if (h.reachable) {
    next.reachable = false;
    next.since = firstFailure;
  }
  return next;
}

/** The fresh caches are listed: the cluster is reachable from now on. */
export function afterSync(h: RemoteHealth, now: Date): RemoteHealth {
  if (h.reachable || !h.resyncing || h.failures > 0) return h;
  return { reachable: true, since: now, lastError: undefined, answering: true, failures: 0, firstFailure: undefined, resyncing: false };
}

/** A status from before this process started: an outage it records keeps its start. */
export function resumedSince(h: RemoteHealth, recorded: { reachable?: boolean | undefined; since?: string | undefined } | undefined): Date {
  if (h.reachable || recorded?.reachable !== false || !recorded.since) return h.since;
  const t = new Date(recorded.since);
  return Number.isNaN(t.getTime()) || t > h.since ? h.since : t;
}
