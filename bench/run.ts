// npm run bench [-- --sizes 100,1000,5000] [--only convergence|idle|failover|memory|drill] [--no-postgres]
//
// For each size N: a fresh control plane (temporary state folder), N primaries
// with their seeded copies, a fresh operator process, then N StandbySites and
// the time until every one is Protected. At the main size (1,000, or the size
// given) also the idle cost, drills per tier (bench/drill.ts) and the failover
// latency against Kubernetes' own EndpointSlice floor. Prints a table and writes bench/results.json.
// See bench/README.md.
import { cp, mkdir, rename, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { measureClientLatency, type ClientLatency } from './client.ts';
import { startCluster, type BenchCluster } from './cluster.ts';
import { errorMessage, log, MiB, now, round, runCleanups } from './common.ts';
import { repoRoot, run as runCommand } from '../test/cluster/common.ts';
import { quantityBytes } from '../test/cluster/storage.ts';
import { measureConvergence, type ConvergenceResult } from './convergence.ts';
import { measureDrills, type DrillBenchResult } from './drill.ts';
import { measureFailover, type FailoverResult } from './failover.ts';
import { measureZoneFailure, type ZoneResult } from './zone.ts';
import { DEFAULT_TIMING, measureSiteLoss, SHORT_TIMING, siteLossUnavailable } from './site-loss.ts';
import { NAMESPACES, planSites, quietSchedule, setupFixtures, tierCounts } from './fixtures.ts';
import { heapUsed, measureIdle, type IdleResult } from './idle.ts';
import { metricValue, OperatorProcess } from './operator-process.ts';
import { prepareOperator, type OperatorSource } from './operator-source.ts';
import { computeTargets, renderTable, type MemoryRow, type Results, type SizeRun } from './report.ts';

const benchDir = dirname(fileURLToPath(import.meta.url));
const SECTIONS = ['convergence', 'idle', 'failover', 'memory', 'drill', 'zone', 'site-loss'] as const;
type Section = (typeof SECTIONS)[number];
const DEFAULT_IDLE_SECONDS = 300;

function envSeconds(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v} is not a positive number of seconds`);
  return n;
}

/**
 * The NODE_OPTIONS the Helm chart gives the operator (values.yaml `nodeOptions`), so both run alike.
 * In the chart's container Node reads a `--max-old-space-size-percentage` against the memory limit;
 * this machine has no such limit (Node would take a share of physical memory, an uncapped heap),
 * so the bench turns it into the `--max-old-space-size` Node computes under `resources.limits.memory`.
 */
function chartNodeOptions(valuesYaml: string): string {
  const values = parseYaml(valuesYaml) as { nodeOptions?: string; resources?: { limits?: { memory?: string } } };
  const opts = values.nodeOptions ?? '';
  const pct = /--max-old-space-size-percentage=(\d+(?:\.\d+)?)/.exec(opts);
  if (!pct) return opts;
  const limitMiB = quantityBytes(values.resources?.limits?.memory) / MiB;
  if (limitMiB === 0) throw new Error(`values.yaml: nodeOptions uses ${pct[0]} but resources.limits.memory is not a memory quantity`);
  return opts.replace(pct[0], `--max-old-space-size=${Math.floor((limitMiB * Number(pct[1])) / 100)}`);
}

function options() {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '100,1000,5000' },
      only: { type: 'string', multiple: true },
      'no-postgres': { type: 'boolean', default: false },
      'failover-reps': { type: 'string', default: '32' },
      'failover-pause-ms': { type: 'string', default: '1000' },
      'zone-sizes': { type: 'string', default: '100,1000' },
      'zone-timeout-s': { type: 'string', default: '300' },
      'create-concurrency': { type: 'string', default: '32' },
      'drill-per-tier': { type: 'string', default: '32' },
      'drill-wave': { type: 'string', default: '16' },
      'drill-wave-timeout-s': { type: 'string', default: '600' },
      'main-size': { type: 'string' },
      'operator-ref': { type: 'string', default: 'HEAD' },
      'operator-node-options': { type: 'string', default: chartNodeOptions(readFileSync(join(repoRoot, 'charts/standby-operator/values.yaml'), 'utf8')) },
      out: { type: 'string' },
      'site-loss-sites': { type: 'string', default: '10' },
      'site-loss-defaults': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      [
        'npm run bench -- [options]',
        '  --sizes 100,1000,5000        site counts, each on a fresh control plane and operator (default 100,1000,5000)',
        '  --only SECTION               convergence | idle | failover | memory | drill | zone | site-loss (repeat or comma-separate; default all)',
        '  --site-loss-sites R          sites lost at once in the site-loss section (default 10), each its own lease and takeover',
        '  --site-loss-defaults         site-loss also with the default timing (30s/10s/30s), after the short one',
        '  --main-size N                where idle, drill and failover run (default 1000 if in --sizes, else the largest size <= 1000)',
        '  --failover-reps N            failover repetitions (default 32, at least 30 for the report)',
        '  --failover-pause-ms MS       pause between repetitions (default 1000)',
        '  --zone-sizes 100,1000        sizes (of --sizes) where every hot primary fails at once (default 100,1000)',
        '  --zone-timeout-s S           how long the zone failure may take before missing figures count as not reached (default 300)',
        '  --create-concurrency N       creates in flight (default 32)',
        '  --drill-per-tier N           sites drilled per tier (default 32, all of the tier if fewer)',
        '  --drill-wave N               drills started together; the next wave waits for all to be recorded (default 16)',
        '  --drill-wave-timeout-s S     a wave\'s drills not recorded by then count as timed out (default 600)',
        '  --operator-ref REF           the operator commit to measure (default HEAD, exported to a temp folder),',
        '                               or "worktree" for the work tree as it is',
        `  --operator-node-options OPTS NODE_OPTIONS of the operator (default: the Helm chart's, as Node applies them under its memory limit: "${values['operator-node-options']}")`,
        '  --no-postgres                skip bench/postgresql.ts',
        '  --out FILE                   results file (default bench/results.json; bench/results-drill.json for --only drill)',
        'environment: BENCH_IDLE_SECONDS (default 300), BENCH_SETUP_TIMEOUT_S (default 1200),',
        '             BENCH_CONVERGENCE_TIMEOUT_S (default 1200)',
        '',
      ].join('\n'),
    );
    process.exit(0);
  }
  const sizes = [...new Set(values.sizes.split(',').map((s) => Number(s.trim().replace(/_/g, ''))))].sort((a, b) => a - b);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--sizes ${values.sizes}: give positive integers, e.g. 100,1000`);
  const only = (values.only ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  for (const s of only) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--only ${s}: choose from ${SECTIONS.join(', ')}`);
  const sections = new Set<Section>(only.length ? (only as Section[]) : SECTIONS);
  const mainSize = values['main-size'] ? Number(values['main-size']) : sizes.includes(1000) ? 1000 : ([...sizes].reverse().find((n) => n <= 1000) ?? sizes[0]!);
  if (!sizes.includes(mainSize)) throw new Error(`--main-size ${mainSize} is not one of --sizes ${sizes.join(',')}`);
  const reps = Number(values['failover-reps']);
  if (!Number.isInteger(reps) || reps < 1) throw new Error('--failover-reps must be a positive integer');
  const positive = (flag: string) => {
    const v = Number(values[flag as keyof typeof values]);
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${flag} must be a positive integer`);
    return v;
  };
  const zoneSizes = values['zone-sizes'].split(',').map((x) => Number(x.trim())).filter((x) => sizes.includes(x));
  // A drill-only run writes its own file: results.json keeps the other sections' figures.
  const drillOnly = sections.size === 1 && sections.has('drill');
  return {
    sizes,
    sections,
    mainSize,
    reps,
    pauseMs: Number(values['failover-pause-ms']),
    zoneSizes,
    zoneTimeoutMs: positive('zone-timeout-s') * 1000,
    createConcurrency: Number(values['create-concurrency']),
    drill: { perTier: positive('drill-per-tier'), wave: positive('drill-wave'), waveTimeoutMs: positive('drill-wave-timeout-s') * 1000 },
    postgres: !values['no-postgres'],
    operatorRef: values['operator-ref'],
    nodeOptions: values['operator-node-options'],
    out: values.out ?? join(benchDir, drillOnly ? 'results-drill.json' : 'results.json'),
    siteLoss: { sites: positive('site-loss-sites'), defaults: values['site-loss-defaults'] },
    idleSeconds: envSeconds('BENCH_IDLE_SECONDS', DEFAULT_IDLE_SECONDS),
    setupTimeoutMs: envSeconds('BENCH_SETUP_TIMEOUT_S', 1200) * 1000,
    convergenceTimeoutMs: envSeconds('BENCH_CONVERGENCE_TIMEOUT_S', 1200) * 1000,
  };
}

type Options = ReturnType<typeof options>;

function mib(bytes: number): number | null {
  return bytes > 0 ? round(bytes / MiB, 1) : null;
}

function osName(): string {
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
    return `${pretty ?? process.platform}, Linux ${release()}`;
  } catch {
    return `${process.platform} ${release()}`;
  }
}

interface SizeOutcome {
  run: SizeRun;
  convergence?: ConvergenceResult;
  memory?: MemoryRow;
  idle?: IdleResult | { n: number; error: string };
  failover?: FailoverResult | { n: number; error: string };
  zone?: ZoneResult | { n: number; error: string };
  drill?: DrillBenchResult | { n: number; error: string };
  client?: ClientLatency | { error: string };
  kubernetes?: string;
}

async function runSize(n: number, o: Options, src: OperatorSource, logsDir: string): Promise<SizeOutcome> {
  const isMain = n === o.mainSize;
  const wantFailover = isMain && o.sections.has('failover');
  const reps = wantFailover ? Math.min(o.reps, n) : 0;
  const wantZone = o.sections.has('zone') && o.zoneSizes.includes(n);
  const plans = planSites(n, reps, wantZone);
  const counts = tierCounts(plans);
  const schedule = quietSchedule();
  log(`=== N=${n}: ${counts.hot} hot (${counts.failover} for failover), ${counts.warm} warm, ${counts.cold} cold over ${NAMESPACES} namespaces`);
  const run: SizeRun = { n, controlPlaneStartSeconds: null, fixtures: null, operatorStartupMs: null, operatorLog: null };
  const outcome: SizeOutcome = { run };
  let cluster: BenchCluster | undefined;
  let op: OperatorProcess | undefined;
  try {
    cluster = await startCluster(n + counts.hot + 10, join(src.root, 'crds'));
    outcome.kubernetes = cluster.state.kubernetesVersion;
    run.controlPlaneStartSeconds = round(cluster.startupMs / 1000, 1);
    run.fixtures = await setupFixtures(cluster.client, plans, schedule, { concurrency: o.createConcurrency, timeoutMs: o.setupTimeoutMs });
    log(`  fixtures ready in ${run.fixtures.totalSeconds} s (${JSON.stringify(run.fixtures)})`);
    run.operatorLog = join(logsDir, `operator-${n}.log`);
    op = await OperatorProcess.start({ root: src.root, main: src.main, nodeOptions: o.nodeOptions, kubeconfig: cluster.kubeconfig, logFile: run.operatorLog });
    run.operatorStartupMs = Math.round(op.startupMs);
    const baseline = op.stats();
    const { result, scrape } = await measureConvergence(cluster, op, plans, schedule, {
      createConcurrency: o.createConcurrency,
      timeoutMs: o.convergenceTimeoutMs,
      workers: src.defaultWorkers,
    });
    outcome.convergence = result;
    const after = op.isAlive() ? op.stats() : undefined;
    const heap = heapUsed(scrape);
    outcome.memory = {
      n,
      rssMiB: after ? round(after.rssBytes / MiB, 1) : null,
      peakRssMiB: after ? round(after.peakRssBytes / MiB, 1) : null,
      rssAnonMiB: after ? round(after.rssAnonBytes / MiB, 1) : null,
      rssFileMiB: after ? round(after.rssFileBytes / MiB, 1) : null,
      heapUsedMiB: heap === undefined ? null : round(heap / MiB, 1),
      heapTotalMiB: mib(metricValue(scrape, 'standby_operator_nodejs_heap_size_total_bytes')),
      externalMiB: mib(metricValue(scrape, 'standby_operator_nodejs_external_memory_bytes')),
      baselineRssMiB: round(baseline.rssBytes / MiB, 1),
      ...(result.ok ? {} : { error: `not converged: ${result.error ?? ''}` }),
    };
    if (isMain && o.sections.has('idle')) {
      outcome.idle = result.ok
        ? await measureIdle(op, n, o.idleSeconds, DEFAULT_IDLE_SECONDS).catch((err: unknown) => ({ n, error: errorMessage(err) }))
        : { n, error: `not measured: convergence failed (${result.error ?? ''})` };
    }
    // Before failover: drills start from Protected sites, and a promoted site would not be one.
    if (isMain && o.sections.has('drill')) {
      outcome.drill = result.ok
        ? await measureDrills(cluster.client, op, n, plans, o.drill).catch((err: unknown) => ({ n, error: errorMessage(err) }))
        : { n, error: `not measured: convergence failed (${result.error ?? ''})` };
    }
    if (wantFailover) {
      outcome.failover = result.ok
        ? await measureFailover(cluster.client, n, plans.filter((p) => p.failover), { pauseMs: o.pauseMs }).catch((err: unknown) => ({ n, error: errorMessage(err) }))
        : { n, error: `not measured: convergence failed (${result.error ?? ''})` };
      const probe = plans.find((p) => !p.failover) ?? plans[0]!;
      outcome.client = await measureClientLatency(cluster.client, cluster.ca, probe.namespace, probe.name).catch((err: unknown) => ({ error: errorMessage(err) }));
    }
    // Last: it promotes every ordinary hot site.
    if (wantZone) {
      outcome.zone = result.ok
        ? await measureZoneFailure(cluster, op, n, plans.filter((p) => p.zone), { timeoutMs: o.zoneTimeoutMs }).catch((err: unknown) => ({ n, error: errorMessage(err) }))
        : { n, error: `not measured: convergence failed (${result.error ?? ''})` };
    }
  } catch (err) {
    run.error = errorMessage(err);
    log(`N=${n} failed: ${run.error}`);
    outcome.memory ??= { n, rssMiB: null, peakRssMiB: null, rssAnonMiB: null, rssFileMiB: null, heapUsedMiB: null, heapTotalMiB: null, externalMiB: null, baselineRssMiB: null, error: run.error };
  } finally {
    if (op) {
      const code = await op.stop();
      if (code !== 0) log(`operator exited with ${code ?? 'a signal'}; see ${op.logFile}`);
    }
    if (cluster) {
      if (run.error || outcome.convergence?.ok === false) {
        const kept = join(logsDir, `control-plane-${n}`);
        await cp(join(cluster.state.stateDir, 'logs'), kept, { recursive: true }).catch(() => undefined);
        log(`control plane logs kept in ${kept}`);
      }
      await cluster.stop();
    }
  }
  return outcome;
}

async function postgres(enabled: boolean, drillOnly: boolean): Promise<unknown> {
  const file = join(benchDir, 'postgresql.ts');
  if (!enabled || !existsSync(file)) return undefined;
  log(`running bench/postgresql.ts${drillOnly ? ' (its drill part only)' : ''} (skip with --no-postgres)`);
  try {
    const mod = (await import(pathToFileURL(file).href)) as { benchPostgres?: () => Promise<unknown>; benchPostgresDrill?: () => Promise<unknown> };
    const fn = drillOnly ? mod.benchPostgresDrill : mod.benchPostgres;
    if (typeof fn !== 'function') return { error: `bench/postgresql.ts exports no ${drillOnly ? 'benchPostgresDrill' : 'benchPostgres'}()` };
    return drillOnly ? { drill: await fn() } : await fn();
  } catch (err) {
    return { error: errorMessage(err) };
  }
}

/** bench/site-loss.ts on the multi-site harness; writes bench/results-site-loss.json. */
async function runSiteLoss(o: ReturnType<typeof options>): Promise<void> {
  const why = await siteLossUnavailable();
  if (why !== undefined) {
    log(`site-loss: skipped (it needs root and network namespaces for the multi-site harness: ${why})`);
    return;
  }
  const loadStart = loadavg().map((x) => round(x, 2));
  const started = now();
  const sets = [SHORT_TIMING, ...(o.siteLoss.defaults ? [DEFAULT_TIMING] : [])];
  const runs = [];
  for (const timing of sets) runs.push(await measureSiteLoss({ sites: o.siteLoss.sites, timing }));
  const commit = (await runCommand('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot })).stdout.trim();
  const dirty = (await runCommand('git', ['status', '--porcelain', '--', 'src', 'bench', ':!bench/results*.json', ':!bench/*.md'], { cwd: repoRoot })).stdout.trim() !== '';
  const out = join(benchDir, 'results-site-loss.json');
  const results = {
    date: new Date().toISOString(),
    commit: dirty ? `${commit} (work tree with changes)` : commit,
    machine: { cpus: cpus().length, model: cpus()[0]?.model.trim() ?? 'unknown', loadAverageAtStart: loadStart, loadAverageAtEnd: loadavg().map((x) => round(x, 2)) },
    settings: {
      sites: o.siteLoss.sites,
      method: 'one site loss (the primary control plane stopped), R sites at once: R leases, R takeovers; the operators run from the work tree (src/cli/main.ts), not --operator-ref',
      bound: 'leaseDuration + acquireAfter + 5 s',
    },
    runs,
    targetMet: runs.every((r) => r.targetMet),
    durationSeconds: round((now() - started) / 1000, 0),
  };
  await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
  for (const r of runs) {
    log(`site-loss (lease ${r.timing.leaseDuration}, acquireAfter ${r.timing.acquireAfter}, renew ${r.timing.renewInterval}): ${r.taken}/${r.sites} taken over; takeover − last renewal p50 ${r.figures?.p50 ?? '?'} s, p99 ${r.figures?.p99 ?? '?'} s, max ${r.figures?.max ?? '?'} s; bound ${r.boundSeconds} s: ${r.targetMet ? 'met' : 'NOT met'}${r.error ? `; error: ${r.error}` : ''}`);
  }
  log(`results written to ${out}`);
}

async function main(): Promise<void> {
  const o = options();
  if (o.sections.size === 1 && o.sections.has('site-loss')) return runSiteLoss(o);
  const started = now();
  const date = new Date();
  const logsDir = join('/tmp', `standby-bench-logs-${date.toISOString().replace(/[:.]/g, '-')}`);
  await mkdir(logsDir, { recursive: true });
  const loadStart = loadavg().map((x) => round(x, 2));
  const src = await prepareOperator(o.operatorRef);
  // Which sizes run: all for convergence/memory; only the main size for idle/failover/drill alone.
  const allSizes = o.sections.has('convergence') || o.sections.has('memory');
  const sizes = allSizes ? o.sizes : o.sizes.filter((n) => n === o.mainSize || (o.sections.has('zone') && o.zoneSizes.includes(n)));
  log(`sizes ${sizes.join(', ')}; sections ${[...o.sections].join(', ')}; idle, drill and failover at N=${o.mainSize}; idle window ${o.idleSeconds} s; logs in ${logsDir}`);

  const outcomes: SizeOutcome[] = [];
  for (const n of sizes) outcomes.push(await runSize(n, o, src, logsDir));
  const pg = await postgres(o.postgres, o.sections.size === 1 && o.sections.has('drill'));

  const main = outcomes.find((x) => x.run.n === o.mainSize);
  const partial: Omit<Results, 'targets'> = {
    date: date.toISOString(),
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model.trim() ?? 'unknown',
      memoryGiB: round(totalmem() / 1024 ** 3, 1),
      os: osName(),
      loadAverageAtStart: loadStart,
      loadAverageAtEnd: loadavg().map((x) => round(x, 2)),
    },
    versions: {
      node: process.version,
      kubernetes: outcomes.find((x) => x.kubernetes)?.kubernetes ?? null,
      operator: { git: src.git, version: src.version, ref: o.operatorRef },
    },
    settings: {
      sizes,
      sections: [...o.sections],
      mainSize: o.mainSize,
      idleSeconds: o.idleSeconds,
      idleShortened: o.idleSeconds !== DEFAULT_IDLE_SECONDS,
      failoverReps: o.reps,
      failoverPauseMs: o.pauseMs,
      ...(o.sections.has('zone') ? { zone: `at N=${o.zoneSizes.join(', ')}: every ordinary hot site (failureThreshold 0s) has its primary pod made not Ready by concurrent strategic-merge PATCHes of /status from this one process (connections opened beforehand), after the other sections; timeout ${o.zoneTimeoutMs / 1000} s` } : {}),
      createConcurrency: o.createConcurrency,
      ...(o.sections.has('drill')
        ? {
            drill: `by annotation (standby.dev/drill=<token>) on the first ${o.drill.perTier} ordinary sites of each tier (all if fewer), tier after tier, in waves of ${o.drill.wave} (a wave starts when every drill of the one before is recorded in status.lastDrill), ${o.drill.waveTimeoutMs / 1000} s per wave; no spec.drill (the default 15m timeout, no verify Job; the generic engine has no check of its own)`,
          }
        : {}),
      operatorWorkers: src.defaultWorkers,
      operatorEnv: `compiled dist/cli/main.js, NODE_OPTIONS="${o.nodeOptions}", LOG_LEVEL=warn, WATCH_NAMESPACES unset (all namespaces), CONCURRENCY unset (default ${src.defaultWorkers ?? '?'}), no leader election`,
      tierMix: '50 % hot, 25 % warm, 25 % cold (plus the failover sites, hot, at the main size)',
      namespaces: NAMESPACES,
      scheduleNote: quietSchedule(date).note,
      seeds: 'warm: one complete copy PVC per site, cold: one ready VolumeSnapshot per site, created before the site with the operator\'s builders',
      logs: logsDir,
    },
    runs: outcomes.map((x) => x.run),
    convergence: o.sections.has('convergence') ? outcomes.flatMap((x) => (x.convergence ? [x.convergence] : [])) : null,
    idle: o.sections.has('idle') ? (main?.idle ?? { n: o.mainSize, error: main?.run.error ?? 'not measured' }) : null,
    drill: o.sections.has('drill') ? (main?.drill ?? { n: o.mainSize, error: main?.run.error ?? 'not measured' }) : null,
    failover: o.sections.has('failover') ? (main?.failover ?? { n: o.mainSize, error: main?.run.error ?? 'not measured' }) : null,
    zone: o.sections.has('zone') ? outcomes.flatMap((x) => (x.zone ? [x.zone] : [])) : null,
    clientLatency: main?.client ?? null,
    memory: o.sections.has('memory') ? outcomes.flatMap((x) => (x.memory ? [x.memory] : [])) : null,
    ...(pg !== undefined ? { postgresql: pg } : {}),
    durationSeconds: round((now() - started) / 1000, 0),
  };
  const results: Results = { ...partial, targets: computeTargets(partial, o.mainSize) };
  const tmp = `${o.out}.tmp`;
  await writeFile(tmp, `${JSON.stringify(results, null, 2)}\n`);
  await rename(tmp, o.out);
  process.stdout.write(`${renderTable(results)}\n`);
  log(`results written to ${o.out}`);
  if (o.sections.has('site-loss')) await runSiteLoss(o);
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${sig}: stopping the operator and control plane this run started`);
    void runCleanups().then(() => process.exit(130));
  });
}

try {
  await main();
} catch (err) {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
} finally {
  await runCleanups();
}
// Keep-alive sockets of the API client would hold the process a few more seconds.
process.exit(process.exitCode ?? 0);
