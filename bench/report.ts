// The results file's shape, the targets, and the table printed to stdout.
import type { ClientLatency } from './client.ts';
import type { ConvergenceResult } from './convergence.ts';
import type { DrillBenchResult } from './drill.ts';
import type { FailoverResult } from './failover.ts';
import type { FixtureTimings } from './fixtures.ts';
import type { IdleResult } from './idle.ts';
import type { ZoneResult } from './zone.ts';
import type { RequestCount } from './operator-process.ts';

export interface MemoryRow {
  n: number;
  /** RSS after convergence settled. */
  rssMiB: number | null;
  /** Peak RSS of the process (VmHWM), start-up and convergence included. */
  peakRssMiB: number | null;
  /** RSS split: the process's own memory (RssAnon) and mapped files (RssFile, mostly the node binary). */
  rssAnonMiB: number | null;
  rssFileMiB: number | null;
  heapUsedMiB: number | null;
  /** V8 heap reserved, and memory outside the V8 heap that V8 knows of (buffers, TLS). */
  heapTotalMiB: number | null;
  externalMiB: number | null;
  /** RSS once the caches held the primaries, before any site existed. */
  baselineRssMiB: number | null;
  error?: string;
}

export interface SizeRun {
  n: number;
  controlPlaneStartSeconds: number | null;
  fixtures: FixtureTimings | null;
  operatorStartupMs: number | null;
  operatorLog: string | null;
  error?: string;
}

export interface Target {
  target: string;
  value: number | string | null;
  met: boolean | null;
  note?: string;
}

export interface Results {
  date: string;
  machine: { cpus: number; model: string; memoryGiB: number; os: string; loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  versions: { node: string; kubernetes: string | null; operator: { git: string; version: string; ref: string } };
  settings: Record<string, unknown>;
  runs: SizeRun[];
  convergence: ConvergenceResult[] | null;
  idle: IdleResult | { n: number; error: string } | null;
  failover: FailoverResult | { n: number; error: string } | null;
  /** Every hot primary failing at once, per size (bench/zone.ts). */
  zone?: (ZoneResult | { n: number; error: string })[] | null;
  /** Drills per tier at the main size (bench/drill.ts). */
  drill: DrillBenchResult | { n: number; error: string } | null;
  /** One API round trip on a new connection vs a kept-alive one (at the main size). */
  clientLatency: ClientLatency | { error: string } | null;
  memory: MemoryRow[] | null;
  targets: Record<string, Target>;
  postgresql?: unknown;
  durationSeconds: number;
}

export const RSS_TARGET_BYTES = 150e6;

export function computeTargets(r: Omit<Results, 'targets'>, mainSize: number): Record<string, Target> {
  const t: Record<string, Target> = {};
  const idle = r.idle && 'writes' in r.idle ? r.idle : undefined;
  t.idleWrites = {
    target: 'operator API writes while idle = 0',
    value: idle ? idle.writes : null,
    met: idle ? idle.writes === 0 : null,
    ...(idle ? { note: `N=${idle.n}, ${idle.seconds} s window${idle.shortened ? ' (shortened: BENCH_IDLE_SECONDS)' : ''}` } : { note: r.idle && 'error' in r.idle ? r.idle.error : 'not measured' }),
  };
  const mem = r.memory?.find((m) => m.n === 1000);
  const rss = mem?.rssMiB ?? null;
  const idleRss = idle && idle.n === 1000 ? idle.rssMiB : null;
  const steady = rss === null ? idleRss : idleRss === null ? rss : Math.max(rss, idleRss);
  t.rssAt1000 = {
    target: 'operator RSS at 1,000 sites <= 150 MB (150e6 bytes = 143.1 MiB)',
    value: steady === null ? null : `${steady} MiB`,
    met: steady === null ? null : steady * 1024 * 1024 <= RSS_TARGET_BYTES,
    note: mem
      ? `the larger of RSS after convergence and at the end of the idle window; peak during convergence ${mem.peakRssMiB ?? '?'} MiB; after convergence ${mem.rssAnonMiB ?? '?'} MiB anonymous, ${mem.rssFileMiB ?? '?'} MiB mapped files (the node binary)`
      : 'N=1000 not run',
  };
  const fo = r.failover && 'ratio' in r.failover ? r.failover : undefined;
  t.failoverSwitchVsFloorP50 = {
    target: 'failover switch p50 / EndpointSlice floor p50 <= 1.0',
    value: fo?.ratio.p50 ?? null,
    met: fo?.ratio.p50 == null ? null : fo.ratio.p50 <= 1.0,
    note: fo ? `switch p50 ${fo.switch.p50} ms, floor p50 ${fo.floor.p50} ms, N=${fo.n}, ${fo.completed}/${fo.reps} repetitions` : 'not measured',
  };
  t.failoverSwitchP99 = {
    target: 'failover switch p99 <= 250 ms',
    value: fo?.switch.p99 ?? null,
    met: fo?.switch.p99 == null ? null : fo.switch.p99 <= 250,
    ...(fo ? { note: `N=${fo.n}, ${fo.switch.n} samples (p99 of ${fo.switch.n} is its ${fo.switch.n < 100 ? 'maximum' : '99th percentile'})` } : {}),
  };
  for (const z of r.zone ?? []) {
    const limit = z.n >= 1000 ? 1.5 : 1.2;
    if ('error' in z) {
      t[`zoneSwitchVsFloorP99At${z.n}`] = { target: `zone failure at ${z.n}: switch p99 <= ${limit}x the EndpointSlice floor's p99`, value: null, met: null, note: z.error };
      continue;
    }
    t[`zoneSwitchVsFloorP99At${z.n}`] = {
      target: `zone failure at ${z.n}: switch p99 <= ${limit}x the EndpointSlice floor's p99`,
      value: z.ratio.p99,
      met: z.ratio.p99 === null ? null : z.ratio.p99 <= limit && z.switch.n === z.sites,
      note: `${z.switch.n}/${z.sites} switched; switch p50/p99/max ${z.switch.p50}/${z.switch.p99}/${z.switch.max} ms, floor ${z.floor.p50}/${z.floor.p99}/${z.floor.max} ms; PATCHes sent within ${z.lastPatchSentMs} ms; load average ${z.loadAverage.start.join(' ')} on ${r.machine.cpus} shared cores (upper bounds)`,
    };
    if (z.n >= 1000) {
      t[`zoneAllSwitchedWithin10sAt${z.n}`] = {
        target: `zone failure at ${z.n}: every site switched within 10 s`,
        value: z.switch.max,
        met: z.switch.max === null ? null : z.switch.n === z.sites && z.switch.max <= 10_000,
        note: `${z.switch.n}/${z.sites} switched`,
      };
    }
  }
  const conv = r.convergence?.find((c) => c.n === 1000) ?? r.convergence?.find((c) => c.n === mainSize);
  t.convergenceLimitedBy = {
    target: 'convergence of 1,000 sites limited by the API server / control plane, not client-side throttling or a serial queue',
    value: conv ? conv.verdict.limitedBy : null,
    met: conv ? (conv.ok ? conv.verdict.met : false) : null,
    note: conv ? `N=${conv.n}: ${conv.verdict.explanation}` : 'not measured',
  };
  return t;
}

// ---- table ----------------------------------------------------------------------------------

function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [pad(header, widths), pad(widths.map((w) => '-'.repeat(w)), widths), ...rows.map((r) => pad(r, widths))];
}

const f = (x: number | null | undefined, unit = ''): string => (x === null || x === undefined ? '-' : `${x}${unit}`);

function topRows(rows: readonly RequestCount[], verbs: readonly string[], limit: number): string {
  const picked = rows.filter((r) => verbs.includes(r.verb)).slice(0, limit);
  return picked.length ? picked.map((r) => `${r.verb} ${r.resource} ${r.code}: ${r.count}`).join(', ') : 'none';
}

export function renderTable(r: Results): string {
  const out: string[] = [];
  out.push(`standby-operator benchmark, ${r.date}`);
  out.push(`machine: ${r.machine.cpus} x ${r.machine.model}, ${r.machine.memoryGiB} GiB, ${r.machine.os}; load average at start ${r.machine.loadAverageAtStart.join(' ')}, at end ${r.machine.loadAverageAtEnd.join(' ')}`);
  out.push(`versions: node ${r.versions.node}, kubernetes ${r.versions.kubernetes ?? '?'}, operator ${r.versions.operator.version} (${r.versions.operator.git})`);
  out.push(`settings: ${String(r.settings.scheduleNote)}; tiers ${String(r.settings.tierMix)}; ${String(r.settings.namespaces)} namespaces; creates ${String(r.settings.createConcurrency)} in flight; operator CONCURRENCY default (${String(r.settings.operatorWorkers)} workers), LOG_LEVEL=warn, all namespaces`);
  out.push('');

  for (const run of r.runs) {
    if (run.error) out.push(`N=${run.n}: ${run.error}`);
  }

  if (r.convergence) {
    out.push('Convergence (first create to every site Protected; requests from the operator\'s /metrics, until quiet)');
    out.push(
      ...table(
        ['N', 'fixtures', 'create', 'converge', 'sites/s', 'req/site', 'reads/site', 'writes/site', 'reconciles/site', 'p50 / p99 to Protected', 'hot: standby Ready -> Protected p50/p99', 'operator CPU', 'limited by'],
        r.convergence.map((c) => [
          String(c.n),
          f(r.runs.find((x) => x.n === c.n)?.fixtures?.totalSeconds, ' s'),
          f(c.createSeconds, ' s'),
          c.ok ? f(c.convergenceSeconds, ' s') : `FAILED (${c.protectedAtEnd}/${c.n})`,
          f(c.sitesPerSecond),
          f(c.requests.perSite),
          f(Math.round((c.requests.reads / c.n) * 100) / 100),
          f(Math.round((c.requests.writes / c.n) * 100) / 100),
          f(c.reconciles.perSite),
          `${f(c.timeToProtected.all?.p50, ' s')} / ${f(c.timeToProtected.all?.p99, ' s')}`,
          `${f(c.hotStandbyReadyToProtected.p50, ' s')} / ${f(c.hotStandbyReadyToProtected.p99, ' s')}`,
          `${c.cpu.operatorSeconds} s (${c.cpu.operatorCores} cores)`,
          c.verdict.limitedBy,
        ]),
      ),
    );
    for (const c of r.convergence) {
      const tiers = Object.entries(c.timeToProtected)
        .filter(([k]) => k !== 'all')
        .map(([k, s]) => `${k} ${f(s.p50)}/${f(s.p99)} s`)
        .join(', ');
      out.push(`  N=${c.n}: per site by verb ${Object.entries(c.requests.perSiteByVerb).map(([k, v]) => `${k} ${v}`).join(', ')}; to Protected p50/p99 by tier: ${tiers}`);
      out.push(`  N=${c.n}: top writes: ${topRows(c.requests.byVerbResource, ['create', 'update', 'patch', 'delete'], 8)}`);
      out.push(`  N=${c.n}: 429 ${c.requests.throttled429}, 409 ${c.requests.conflicts409}, 5xx ${c.requests.errors5xx}; reconcile mean ${f(c.reconciles.meanMs, ' ms')}, errors ${c.reconciles.errors}; control plane ${c.cpu.controlPlaneCores} cores (${Object.entries(c.cpu.controlPlaneSeconds).map(([k, v]) => `${k} ${v} s`).join(', ')}); operator sockets max ${f(c.operatorSocketsMax)}; /metrics scrape ${c.metricsScrapes.meanMs} ms`);
      if (c.apiServer) {
        out.push(`  N=${c.n}: kube-apiserver (all clients) mean handling time: ${c.apiServer.rows.slice(0, 8).map((x) => `${x.verb} ${x.resource} ${x.count}x ${x.meanMs} ms`).join(', ')}; APF wait ${f(c.apiServer.apfWaitMeanMs, ' ms')}`);
      }
      out.push(`  N=${c.n}: status updates per site ${JSON.stringify(c.statusUpdates.perSite)}; fields changed: ${Object.entries(c.statusUpdates.changedFields).slice(0, 10).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      out.push(`  N=${c.n}: ${c.verdict.explanation}`);
      if (c.error) out.push(`  N=${c.n}: ERROR ${c.error}${c.notProtected ? `; not Protected: ${JSON.stringify(c.notProtected)}` : ''}`);
    }
    out.push('');
  }

  if (r.idle) {
    if ('error' in r.idle) out.push(`Idle (N=${r.idle.n}): ${r.idle.error}`);
    else {
      const i = r.idle;
      out.push(`Idle (N=${i.n}, ${i.seconds} s${i.shortened ? ', SHORTENED with BENCH_IDLE_SECONDS' : ''})`);
      out.push(`  writes ${i.writes} (${topRows(i.byVerbResource, ['create', 'update', 'patch', 'delete'], 8)})`);
      out.push(`  reads ${i.reads} (${topRows(i.byVerbResource, ['get', 'list', 'watch'], 6)}), reconciles ${i.reconciles}`);
      out.push(`  CPU ${i.cpuSeconds} s (${i.cpuPercentOfCore} % of a core), RSS ${i.rssStartMiB} -> ${i.rssMiB} MiB, heap used ${f(i.heapUsedMiB, ' MiB')}; one /metrics scrape takes ${i.scrapeMs} ms at this size`);
    }
    out.push('');
  }

  if (r.drill) {
    out.push(`Drills (N=${r.drill.n}; by annotation; rto and data age are status.lastDrill's; wall: the tier's first annotation to its last record)`);
    if ('error' in r.drill) out.push(`  ${r.drill.error}`);
    else {
      const d = r.drill;
      out.push(`  ${d.perTier} sites per tier at most, waves of ${d.wave}`);
      out.push(
        ...table(
          ['tier', 'drilled', 'passed', 'failed', 'aborted', 'timed out', 'rto p50 / p99', 'data age p50 / p99', 'annotation -> record p50 / p99', 'wall'],
          Object.values(d.tiers).map((t) => [
            t.tier,
            `${t.drilled} of ${t.sitesOfTier}`,
            String(t.passed),
            String(t.failed),
            String(t.aborted),
            String(t.timedOut),
            `${f(t.rtoSeconds.p50)} / ${f(t.rtoSeconds.p99, ' s')}`,
            `${f(t.dataAgeSeconds.p50)} / ${f(t.dataAgeSeconds.p99, ' s')}`,
            `${f(t.observedSeconds.p50)} / ${f(t.observedSeconds.p99, ' s')}`,
            f(t.wallSeconds, ' s'),
          ]),
        ),
      );
      const pl = d.primaryLoad;
      out.push(`  primaries during the drills: ${pl.changesToSampledPrimaries} changes to the drilled sites' primary objects, ${pl.changesToAnyPrimary} to any primary's (watches on ${pl.primaryObjectsWatched} primary objects); ${pl.objectsChanged.length} of ${pl.objectsCompared} production objects of the drilled sites with a new resourceVersion${pl.objectsChanged.length ? ` (${pl.objectsChanged.slice(0, 3).join('; ')})` : ''}`);
      out.push(`  operator writes during the drills: ${d.operatorWrites} (${f(d.operatorWritesPerDrill)} per drill): ${topRows(d.operatorRequests, ['create', 'update', 'patch', 'delete'], 8)}`);
      const bad = d.samples.filter((s) => s.result !== 'Passed');
      if (bad.length) out.push(`  ${bad.length} drills not passed, e.g. ${bad[0]!.site}: ${bad[0]!.result} ${bad[0]!.message ?? ''}`);
    }
    out.push('');
  }

  if (r.failover) {
    if ('error' in r.failover) out.push(`Failover (N=${r.failover.n}): ${r.failover.error}`);
    else {
      const fo = r.failover;
      out.push(`Failover (N=${fo.n}, ${fo.completed}/${fo.reps} repetitions, failureThreshold 0s; ms from the pod status PATCH)`);
      out.push(
        ...table(
          ['', 'p50', 'p99', 'min', 'max', 'n'],
          (
            [
              ['operator observed (notReadySince)', fo.observed],
              ['site event shows it (watch)', fo.siteEvent],
              ['traffic Service switched (watch)', fo.switch],
              ['floor: EndpointSlice not ready (watch)', fo.floor],
              ['site Promoted (watch)', fo.promoted],
              ['operator: promotion duration', fo.operatorDuration],
            ] as const
          ).map(([k, s]) => [k, f(s.p50), f(s.p99), f(s.min), f(s.max), String(s.n)]),
        ),
      );
      out.push(`  ratio switch / floor: p50 ${f(fo.ratio.p50)}, p99 ${f(fo.ratio.p99)}`);
      const c = r.clientLatency;
      if (c && 'requests' in c) {
        out.push(`  one GET of a site, p50/p99: ${c.newConnection.p50}/${c.newConnection.p99} ms on a new connection each (${c.cpuMsPerRequest.newConnection} ms client CPU) vs ${c.keptAlive.p50}/${c.keptAlive.p99} ms kept alive (${c.cpuMsPerRequest.keptAlive} ms CPU)`);
      }
      const errors = fo.samples.filter((s) => s.error);
      if (errors.length) out.push(`  ${errors.length} repetitions with errors, e.g. ${errors[0]!.site}: ${errors[0]!.error ?? ''}`);
    }
    out.push('');
  }

  for (const z of r.zone ?? []) {
    if ('error' in z) {
      out.push(`Zone failure (N=${z.n}): ${z.error}`, '');
      continue;
    }
    out.push(`Zone failure (N=${z.n}: ${z.sites} hot primaries not Ready at once, PATCHes sent within ${z.lastPatchSentMs} ms, answered within ${z.lastPatchAnsweredMs} ms; ms from t0)`);
    out.push(
      ...table(
        ['', 'p50', 'p99', 'max', 'n'],
        (
          [
            ['operator observed (its clock)', z.observed],
            ['fence NetworkPolicy landed (watch)', z.fence],
            ['traffic Service switched (watch)', z.switch],
            ['site Promoted (watch)', z.promoted],
            ['floor: EndpointSlice not ready (watch)', z.floor],
            ['  step: observed -> fence', z.steps.observedToFence],
            ['  step: fence -> switch', z.steps.fenceToSwitch],
            ['  step: switch -> Promoted', z.steps.switchToPromoted],
          ] as const
        ).map(([k, s]) => [k, f(s.p50), f(s.p99), f(s.max), String(s.n)]),
      ),
    );
    out.push(`  ratio switch / floor: p50 ${f(z.ratio.p50)}, p99 ${f(z.ratio.p99)}, max ${f(z.ratio.max)}`);
    out.push(`  API requests: ${z.requests.total} (${z.requests.writes} writes), ${f(z.requests.perPromotion)} per promotion (${f(z.requests.writesPerPromotion)} writes); top: ${topRows(z.requests.byVerbResource, ['get', 'list', 'create', 'update', 'patch', 'apply', 'delete'], 6)}`);
    const h = (x: { count: number; meanMs: number | null; p99UpperMs: number | null }) => `${x.count} x mean ${f(x.meanMs)} ms (p99 <= ${f(x.p99UpperMs)} ms)`;
    out.push(`  queue wait: urgent ${h(z.where.queueWait.urgent)}, routine ${h(z.where.queueWait.routine)}; reconciles ${h(z.where.reconciles)}`);
    out.push(`  waits for the cache to show our own write: ${h(z.where.cacheWait.seen)}; timed out ${z.where.cacheWait.timeout.count}`);
    out.push(`  API answer time (operator's side): ${Object.entries(z.where.apiAnswer).filter(([, x]) => x.count > 0).map(([v, x]) => `${v} ${h(x)}`).join(', ')}`);
    if (z.where.apiServer) {
      const rows = z.where.apiServer.rows.slice(0, 5).map((x) => `${x.verb} ${x.resource} ${x.count} x ${f(x.meanMs)} ms`).join(', ');
      out.push(`  kube-apiserver (all clients): ${rows}; APF queue wait mean ${f(z.where.apiServer.apfWaitMeanMs)} ms`);
    }
    const peak = z.where.queueTimeline.reduce((a, x) => ({ ready: Math.max(a.ready, x.ready), inFlight: Math.max(a.inFlight, x.inFlight) }), { ready: 0, inFlight: 0 });
    out.push(`  queue peak: ${peak.ready} ready, ${peak.inFlight} in flight; operator CPU ${f(z.where.operatorCpuSeconds)} s; sockets ${z.where.operatorSockets.before ?? '?'} -> ${z.where.operatorSockets.after ?? '?'}; load average ${z.loadAverage.start.join(' ')} -> ${z.loadAverage.end.join(' ')}`);
    const errors = z.samples.filter((s) => s.error);
    if (errors.length) out.push(`  ${errors.length} sites with errors, e.g. ${errors[0]!.site}: ${errors[0]!.error ?? ''}`);
    out.push('');
  }

  if (r.memory) {
    out.push('Memory (operator RSS, one fresh process per N)');
    out.push(
      ...table(
        ['N', 'RSS', 'anon / file', 'peak RSS', 'heap used', 'heap total', 'external', 'RSS before sites'],
        r.memory.map((m) =>
          m.error && m.rssMiB === null
            ? [String(m.n), m.error, '', '', '', '', '', '']
            : [String(m.n), f(m.rssMiB, ' MiB'), `${f(m.rssAnonMiB, '')} / ${f(m.rssFileMiB, ' MiB')}`, f(m.peakRssMiB, ' MiB'), f(m.heapUsedMiB, ' MiB'), f(m.heapTotalMiB, ' MiB'), f(m.externalMiB, ' MiB'), f(m.baselineRssMiB, ' MiB')],
        ),
      ),
    );
    out.push('');
  }

  if (r.postgresql !== undefined) {
    out.push('PostgreSQL (bench/postgresql.ts)');
    out.push(`  ${JSON.stringify(r.postgresql)}`);
    out.push('');
  }

  out.push('Targets');
  out.push(
    ...table(
      ['target', 'value', 'met'],
      Object.values(r.targets).map((t) => [t.target, t.value === null ? '-' : String(t.value), t.met === null ? (t.value === null ? 'not measured' : 'undetermined') : t.met ? 'yes' : 'NO']),
    ),
  );
  for (const t of Object.values(r.targets)) if (t.note) out.push(`  ${t.target.split(' ').slice(0, 3).join(' ')}: ${t.note}`);
  out.push('');
  out.push(`took ${Math.round(r.durationSeconds / 60)} min`);
  return out.join('\n');
}
