// Idle cost: with every site Protected and nothing changing, what the operator
// does over a window (default 300 s): API writes (target 0) and reads, by verb
// and resource, CPU seconds and RSS. The /metrics scrapes are outside the window.
import { MiB, log, now, round, sleep } from './common.ts';
import { byVerb, countVerbs, READ_VERBS, requestDelta, WRITE_VERBS, type OperatorProcess, type RequestCount, type Scrape } from './operator-process.ts';

export interface IdleResult {
  n: number;
  seconds: number;
  /** Whether the window is the default 300 s or was shortened with BENCH_IDLE_SECONDS. */
  shortened: boolean;
  writes: number;
  reads: number;
  byVerb: Record<string, number>;
  /** Non-zero request rows in the window (reads include watches that ended and were re-opened). */
  byVerbResource: RequestCount[];
  reconciles: number;
  cpuSeconds: number;
  cpuPercentOfCore: number;
  rssMiB: number;
  rssStartMiB: number;
  peakRssMiB: number;
  heapUsedMiB: number | null;
  /** What one /metrics scrape costs the operator at this size (ms of wall time; its CPU is not in the window). */
  scrapeMs: number;
}

export async function measureIdle(op: OperatorProcess, n: number, seconds: number, defaultSeconds: number): Promise<IdleResult> {
  log(`idle: ${seconds} s with ${n} sites Protected${seconds === defaultSeconds ? '' : ` (shortened from ${defaultSeconds} s by BENCH_IDLE_SECONDS)`}`);
  const m0 = await op.scrape();
  const s0 = op.stats();
  const t0 = now();
  const deadline = t0 + seconds * 1000;
  while (now() < deadline) {
    await sleep(Math.min(30_000, deadline - now()));
    if (!op.isAlive()) throw new Error(`the operator exited during the idle window; see ${op.logFile}`);
    const elapsed = Math.round((now() - t0) / 1000);
    if (elapsed < seconds) log(`  idle ${elapsed}/${seconds} s`);
  }
  const s1 = op.stats();
  const elapsed = (now() - t0) / 1000;
  const m1 = await op.scrape();
  const rows = requestDelta(m0, m1);
  const heap = heapUsed(m1);
  const reconciles = value(m1, 'standby_reconcile_total') - value(m0, 'standby_reconcile_total');
  const cpu = s1.cpuSeconds - s0.cpuSeconds;
  const result: IdleResult = {
    n,
    seconds: round(elapsed, 1),
    shortened: seconds !== defaultSeconds,
    writes: countVerbs(rows, WRITE_VERBS),
    reads: countVerbs(rows, READ_VERBS),
    byVerb: byVerb(rows),
    byVerbResource: rows,
    reconciles,
    cpuSeconds: round(cpu, 2),
    cpuPercentOfCore: round((cpu / elapsed) * 100, 2),
    rssMiB: round(s1.rssBytes / MiB, 1),
    rssStartMiB: round(s0.rssBytes / MiB, 1),
    peakRssMiB: round(s1.peakRssBytes / MiB, 1),
    heapUsedMiB: heap === undefined ? null : round(heap / MiB, 1),
    scrapeMs: round((m0.ms + m1.ms) / 2, 1),
  };
  log(`  idle: ${result.writes} writes, ${result.reads} reads, ${result.reconciles} reconciles, ${result.cpuSeconds} CPU s, RSS ${result.rssMiB} MiB`);
  return result;
}

function value(s: Scrape, name: string): number {
  return s.samples.filter((x) => x.name === name).reduce((a, x) => a + x.value, 0);
}

export function heapUsed(s: Scrape): number | undefined {
  const x = s.samples.find((y) => y.name === 'standby_operator_nodejs_heap_size_used_bytes');
  return x?.value;
}
