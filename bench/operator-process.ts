// The operator as a child process (`node dist/cli/main.js run`, compiled as the image runs it), its /proc
// figures (RSS, peak RSS, CPU seconds, open sockets) and its /metrics.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { freePort } from '../test/cluster/common.ts';
import { log, now, onCleanup, sleep, waitUntil } from './common.ts';

// ---- /proc ----------------------------------------------------------------------------------

let clockTicks: number | undefined;

/** USER_HZ: the unit of utime and stime in /proc/<pid>/stat. */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface ProcStats {
  /** Resident set size now (VmRSS). */
  rssBytes: number;
  /** Peak resident set size since the process started (VmHWM). */
  peakRssBytes: number;
  /** The part of RSS that is the process's own memory (RssAnon): heap, malloc, stacks. */
  rssAnonBytes: number;
  /** The part of RSS that is mapped files (RssFile), mostly the node binary's code: shared, reclaimable. */
  rssFileBytes: number;
  /** User + system CPU time since the process started. */
  cpuSeconds: number;
}

/** RSS, peak RSS and CPU of a running process; undefined when it is gone. */
export function procStats(pid: number): ProcStats | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at field 3 (state).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return { rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM'), rssAnonBytes: kb('RssAnon'), rssFileBytes: kb('RssFile'), cpuSeconds: (utime + stime) / ticksPerSecond() };
  } catch {
    return undefined;
  }
}

/** Busy and total CPU time of the whole machine so far (ticks, all CPUs), from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

/** Open sockets of a process (each API request on a new connection shows here). */
export function openSockets(pid: number): number | undefined {
  try {
    let n = 0;
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
      } catch {
        // closed meanwhile
      }
    }
    return n;
  } catch {
    return undefined;
  }
}

// ---- /metrics -------------------------------------------------------------------------------

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (the subset prom-client writes). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

export interface Scrape {
  samples: Sample[];
  /** How long the scrape took, in ms (the operator computes per-site gauges on every scrape). */
  ms: number;
}

/** The value of a metric summed over the samples whose labels match. */
export function metricValue(s: Scrape, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const x of s.samples) {
    if (x.name !== name) continue;
    if (Object.entries(match).every(([k, v]) => x.labels[k] === v)) sum += x.value;
  }
  return sum;
}

export const READ_VERBS = ['get', 'list', 'watch'] as const;
export const WRITE_VERBS = ['create', 'update', 'patch', 'delete'] as const;

export interface RequestCount {
  verb: string;
  resource: string;
  code: string;
  count: number;
}

/** standby_api_requests_total by verb, resource and code: b minus a, non-zero rows, largest first. */
export function requestDelta(a: Scrape | undefined, b: Scrape): RequestCount[] {
  const key = (l: Record<string, string>) => `${l.verb ?? ''}|${l.resource ?? ''}|${l.code ?? ''}`;
  const before = new Map<string, number>();
  for (const x of a?.samples ?? []) if (x.name === 'standby_api_requests_total') before.set(key(x.labels), x.value);
  const out: RequestCount[] = [];
  for (const x of b.samples) {
    if (x.name !== 'standby_api_requests_total') continue;
    const count = x.value - (before.get(key(x.labels)) ?? 0);
    if (count > 0) out.push({ verb: x.labels.verb ?? '', resource: x.labels.resource ?? '', code: x.labels.code ?? '', count });
  }
  return out.sort((p, q) => q.count - p.count);
}

export function countVerbs(rows: readonly RequestCount[], verbs: readonly string[]): number {
  return rows.filter((r) => verbs.includes(r.verb)).reduce((a, r) => a + r.count, 0);
}

/** Counts by verb (every verb that occurs, plus the usual ones as 0). */
export function byVerb(rows: readonly RequestCount[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of [...READ_VERBS, ...WRITE_VERBS]) out[v] = 0;
  for (const r of rows) out[r.verb] = (out[r.verb] ?? 0) + r.count;
  return out;
}

// ---- the process ----------------------------------------------------------------------------

/** Environment variables the operator reads; never inherited from the shell that runs the bench. */
const OPERATOR_SETTINGS = [
  'WATCH_NAMESPACES',
  'CONCURRENCY',
  'LEADER_ELECT',
  'POD_NAME',
  'POD_NAMESPACE',
  'STANDBY_IMPERSONATE',
  'LAG_PROBE_MS',
  'STANDBY_TEST_EXIT_AFTER_STEP',
  'HEALTH_PORT',
  'HEALTH_HOST',
  'LOG_LEVEL',
  'NODE_OPTIONS',
];

export interface OperatorStartOptions {
  /** Folder with the operator's src/ (a commit's export, or the work tree). */
  root: string;
  /** The compiled entry point to run. */
  main: string;
  /** NODE_OPTIONS for the operator, as the Helm chart sets them. */
  nodeOptions: string;
  kubeconfig: string;
  logFile: string;
  /** Extra environment (e.g. CONCURRENCY). */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

export class OperatorProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
  /** ms (monotonic) from spawn to /readyz answering 200. */
  startupMs = 0;
  private dead = false;
  private readonly unregister: () => void;

  private constructor(child: ChildProcess, port: number, logFile: string) {
    this.child = child;
    this.pid = child.pid!;
    this.port = port;
    this.logFile = logFile;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))));
    void this.exited.then(() => (this.dead = true));
    this.unregister = onCleanup(`operator pid ${this.pid}`, async () => {
      await this.stop();
    });
  }

  /** Starts `standby-operator run` on all namespaces and waits for /readyz. */
  static async start(o: OperatorStartOptions): Promise<OperatorProcess> {
    const port = await freePort();
    const out = createWriteStream(o.logFile, { flags: 'a' });
    const started = now();
    // The operator's settings come from here only: WATCH_NAMESPACES unset (all namespaces),
    // default concurrency, no leader election, unless the bench passes them in o.env.
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of OPERATOR_SETTINGS) Reflect.deleteProperty(env, k);
    const child = spawn(process.execPath, [o.main, 'run'], {
      cwd: o.root,
      env: {
        ...env,
        KUBECONFIG: o.kubeconfig,
        HEALTH_PORT: String(port),
        HEALTH_HOST: '127.0.0.1',
        OPERATOR_IMAGE: 'example.invalid/standby-operator:bench',
        LOG_LEVEL: 'warn',
        NODE_OPTIONS: o.nodeOptions,
        ...o.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new Error('could not start the operator process');
    child.stdout.pipe(out);
    child.stderr.pipe(out);
    const op = new OperatorProcess(child, port, o.logFile);
    await waitUntil(`the operator's /readyz (log: ${o.logFile})`, o.readyTimeoutMs ?? 300_000, async () => {
      if (op.dead) throw new Error(`the operator exited during start-up; see ${o.logFile}`);
      const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      return res?.status === 200;
    }, 200);
    op.startupMs = now() - started;
    log(`operator pid ${op.pid} ready in ${Math.round(op.startupMs)} ms (metrics on 127.0.0.1:${port}, log ${o.logFile})`);
    return op;
  }

  stats(): ProcStats {
    const s = procStats(this.pid);
    if (!s) throw new Error(`the operator (pid ${this.pid}) is not running; see ${this.logFile}`);
    return s;
  }

  sockets(): number | undefined {
    return openSockets(this.pid);
  }

  async scrape(): Promise<Scrape> {
    const started = now();
    const res = await fetch(`http://127.0.0.1:${this.port}/metrics`, { signal: AbortSignal.timeout(60_000) });
    if (!res.ok) throw new Error(`operator /metrics answered ${res.status}`);
    const text = await res.text();
    return { samples: parseMetrics(text), ms: now() - started };
  }

  /** Whether the process still runs (a method: it changes behind the compiler's back). */
  isAlive(): boolean {
    return !this.dead;
  }

  /** SIGTERM, then SIGKILL after 30 s; resolves with the exit code. */
  async stop(): Promise<number | null> {
    this.unregister();
    if (this.isAlive()) {
      this.child.kill('SIGTERM');
      const deadline = Date.now() + 30_000;
      while (this.isAlive() && Date.now() < deadline) await sleep(100);
      if (this.isAlive()) {
        log(`operator pid ${this.pid} did not stop within 30 s of SIGTERM: SIGKILL`);
        this.child.kill('SIGKILL');
      }
    }
    return this.exited;
  }
}
