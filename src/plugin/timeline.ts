// A site's history in one ordered list: its promotions (from status) and its Events.
import type { PromotionRecord, PromotionStatus } from '../api/status.ts';

/** The fields of a core/v1 Event the timeline reads. */
export interface EventObject {
  apiVersion?: string;
  kind?: string;
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: string | null;
  lastTimestamp?: string | null;
  eventTime?: string | null;
  metadata?: { resourceVersion?: string };
}

export interface TimelineEntry {
  at: string;
  source: 'promotion' | 'event';
  /** Normal or Warning for Events; the step for promotion entries. */
  kind: string;
  what: string;
  message: string;
  /** Orders Events of the same second (their times have no finer grain). */
  order?: number;
  /** Events seen more than once: how often, and since when. */
  count?: number;
  firstAt?: string;
}

/** The steps of one promotion, each when it was reached. */
export function promotionSteps(p: PromotionStatus): TimelineEntry[] {
  const steps: [string | undefined, string, string][] = [
    [p.startedAt, 'started', `${p.trigger ?? ''} promotion${p.token ? ` (token ${p.token})` : ''}: ${p.reason ?? ''}`.trim()],
    [p.fencedAt, 'fenced', `the old primary is fenced${p.fencing ? ` (${p.fencing})` : ''}`],
    [p.promotedAt, 'promoted', 'the standby was promoted'],
    [p.switchedAt, 'switched', 'clients are sent to the standby'],
  ];
  const out: TimelineEntry[] = steps
    .filter((s): s is [string, string, string] => s[0] !== undefined)
    .map(([at, kind, message]) => ({ at, source: 'promotion', kind, what: `promotion ${kind}`, message }));
  if (p.state === 'Failed' && p.completedAt) {
    out.push({ at: p.completedAt, source: 'promotion', kind: 'failed', what: 'promotion failed', message: p.message ?? '' });
  } else if (p.state === 'Promoted' && p.completedAt) {
    out.push({
      at: p.completedAt,
      source: 'promotion',
      kind: 'completed',
      what: 'promotion completed',
      message: p.durationSeconds !== undefined ? `in ${p.durationSeconds}s` : '',
    });
  } else if (p.state && p.stepStartedAt) {
    out.push({ at: p.stepStartedAt, source: 'promotion', kind: 'running', what: `promotion ${p.state}`, message: p.message ?? '' });
  }
  return out;
}

function recordEntries(r: PromotionRecord): TimelineEntry[] {
  const out: TimelineEntry[] = [{ at: r.startedAt, source: 'promotion', kind: 'started', what: 'promotion started', message: `${r.trigger} promotion` }];
  if (r.completedAt) {
    out.push({
      at: r.completedAt,
      source: 'promotion',
      kind: r.result === 'Promoted' ? 'completed' : 'failed',
      what: r.result === 'Promoted' ? 'promotion completed' : 'promotion failed',
      message: r.reason ?? '',
    });
  }
  return out;
}

const eventTime = (e: EventObject): string | undefined => e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? undefined;

/**
 * Everything in time order. The current promotion is shown step by step; older ones (in
 * status.promotionHistory) by their start and end.
 */
export function timeline(promotion: PromotionStatus | undefined, history: readonly PromotionRecord[], events: readonly EventObject[]): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  for (const r of history) if (r.startedAt !== promotion?.startedAt) entries.push(...recordEntries(r));
  if (promotion) entries.push(...promotionSteps(promotion));
  for (const e of events) {
    const at = eventTime(e);
    if (!at) continue;
    const first = e.firstTimestamp ?? undefined;
    entries.push({
      at,
      source: 'event',
      kind: e.type ?? 'Normal',
      what: e.reason ?? '',
      message: e.message ?? '',
      ...(e.metadata?.resourceVersion && /^\d+$/.test(e.metadata.resourceVersion) ? { order: Number(e.metadata.resourceVersion) } : {}),
      ...(e.count !== undefined && e.count > 1 ? { count: e.count, ...(first ? { firstAt: first } : {}) } : {}),
    });
  }
  // Event times have whole seconds, promotion steps milliseconds. An Event is recorded after what
  // it reports, so it sorts at the end of its second; entries with the same key keep the order
  // they were added in (steps in step order), Events of one second the order the API server
  // stored them in (resourceVersion: opaque by contract, an etcd revision in practice; only a
  // tie-breaker here).
  const key = (e: TimelineEntry) => Date.parse(e.at) + (e.source === 'event' && !/\.\d/.test(e.at) ? 999 : 0);
  const sorted = entries.map((e, i) => ({ e, i })).sort((a, b) => key(a.e) - key(b.e) || (a.e.order ?? 0) - (b.e.order ?? 0) || a.i - b.i);
  return sorted.map(({ e }) => {
    const { order: _order, ...rest } = e;
    return rest;
  });
}
