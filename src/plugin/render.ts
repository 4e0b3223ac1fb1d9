// Text output: tables padded as kubectl pads them, durations as kubectl shows ages.
import type { TimelineEntry } from './timeline.ts';
import { conditionOf, type SiteView } from './view.ts';

/** A compact age, as kubectl prints one: 45s, 4m10s, 3h12m, 12d. */
export function age(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  const h = Math.floor(m / 60);
  if (h < 3) return `${m}m`;
  if (h < 8) return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
  const d = Math.floor(h / 24);
  if (h < 48) return `${h}h`;
  if (d < 8) return `${d}d${h % 24 ? `${h % 24}h` : ''}`;
  return `${d}d`;
}

/** Seconds as a short figure: 0.05s, 3s, 4m10s. */
export function seconds(s: number): string {
  return s < 10 ? `${Math.round(s * 1000) / 1000}s` : age(s);
}

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function dataAgeText(v: SiteView): string {
  if (v.dataAgeSeconds === undefined) {
    if (v.tier === 'hot') return 'not measured (the engine measures no replication lag)';
    return 'no copy yet';
  }
  const what = v.dataAgeFrom === 'lag' ? ' (replication lag)' : ` (data from ${v.dataTimestamp ?? '?'})`;
  const target = v.rpoTargetSeconds === undefined ? '' : `, RPO target ${age(v.rpoTargetSeconds)}: ${v.rpoMet ? 'within target' : 'TARGET MISSED'}`;
  return `${age(v.dataAgeSeconds)}${what}${target}`;
}

const replicas = (ready: number | undefined, all: number | undefined) => `${ready ?? 0}/${all ?? 0} ready`;

export interface StatusText {
  view: SiteView;
  lastDrill: string;
  lastPromotion: TimelineEntry[];
  next: string[];
}

export function renderStatus(s: StatusText): string {
  const v = s.view;
  const lines: string[] = [];
  const field = (k: string, val: string) => lines.push(`${`${k}:`.padEnd(16)}${val}`);
  field('Site', `${v.namespace}/${v.name}`);
  field('Tier', v.tier);
  field('Phase', v.phase ?? 'not reported yet');
  field('Serving', `${v.serving}${v.trafficService ? ` (clients use Service ${v.trafficService})` : ''}`);
  field('Primary', `${v.primary.state ?? 'unknown'}, ${replicas(v.primary.readyReplicas, v.primary.replicas)}`);
  const standby = v.standby.workload
    ? `${v.standby.workload}, ${v.standby.replicas === 0 ? 'at 0 replicas until a promotion' : replicas(v.standby.readyReplicas, v.standby.replicas)}`
    : 'none running';
  field('Standby', standby);
  field('Data age', dataAgeText(v));
  if (v.lagSeconds !== undefined) field('Lag', seconds(v.lagSeconds));
  lines.push('Conditions:');
  if (v.conditions.length === 0) lines.push('  none reported yet');
  const width = Math.max(0, ...v.conditions.map((c) => c.type.length));
  const rwidth = Math.max(0, ...v.conditions.map((c) => c.reason.length));
  for (const c of v.conditions) {
    lines.push(`  ${c.type.padEnd(width)}  ${c.status.padEnd(7)}  ${c.reason.padEnd(rwidth)}  ${c.message}${c.stale ? ` (for generation ${c.observedGeneration ?? '?'})` : ''}`);
  }
  field('Last drill', s.lastDrill);
  if (s.lastPromotion.length === 0) {
    field('Last promotion', 'none');
  } else {
    const p = v.promotion;
    field('Last promotion', `${p?.state ?? ''}${p?.trigger ? `, ${p.trigger}` : ''}${p?.durationSeconds !== undefined ? `, took ${seconds(p.durationSeconds)}` : ''}`);
    for (const e of s.lastPromotion) lines.push(`  ${e.at}  ${e.kind.padEnd(9)}  ${e.message}`);
  }
  lines.push('Next:');
  for (const n of s.next) lines.push(`  - ${n}`);
  return lines.join('\n');
}

export function renderList(views: readonly SiteView[], allNamespaces: boolean): string {
  const header = [...(allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'TIER', 'SERVING', 'PRIMARY', 'DATA AGE', 'RPO TARGET', 'LAG', 'PHASE', 'READY'];
  const rows = views.map((v) => [
    ...(allNamespaces ? [v.namespace] : []),
    v.name,
    v.tier,
    v.serving,
    v.primary.state ?? '',
    v.dataAgeSeconds === undefined ? '-' : `${age(v.dataAgeSeconds)}${v.rpoMet === false ? ' (!)' : ''}`,
    v.rpoTargetSeconds === undefined ? '-' : age(v.rpoTargetSeconds),
    v.lagSeconds === undefined ? '-' : seconds(v.lagSeconds),
    v.phase ?? '',
    conditionOf(v, 'Ready')?.status ?? '',
  ]);
  return table(header, rows);
}

export function renderTimeline(entries: readonly TimelineEntry[]): string {
  if (entries.length === 0) return 'no promotions and no Events';
  return table(
    ['TIME', 'SOURCE', 'TYPE', 'WHAT', 'MESSAGE'],
    entries.map((e) => [e.at, e.source, e.kind, e.what, `${e.message}${e.count ? ` (${e.count} times since ${e.firstAt ?? '?'})` : ''}`]),
  );
}
