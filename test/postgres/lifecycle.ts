// The operator's re-protection and failback sequence on loopback servers,
// with the engine's own scripts and I/O: the declared primary P at
// 127.0.0.1 and the standby S (replica 0) at 127.0.0.2 on the same port, as
// two pods would be. Only addresses and directories are pointed at loopback.
// No vitest import: bench/ uses it too.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Side } from '../../src/api/status.ts';
import type { EngineContext } from '../../src/engines/engine.ts';
import { caughtUp, divergence, setWritable } from '../../src/engines/postgresql/lifecycle-io.ts';
import { observeReplication } from '../../src/engines/postgresql/observe.ts';
import { rawReport, type RawReport } from '../../src/engines/postgresql/report.ts';
import { standbyBootstrapScript } from '../../src/engines/postgresql/script-bootstrap.ts';
import { promoteScript } from '../../src/engines/postgresql/script-promote.ts';
import { reprotectScript } from '../../src/engines/postgresql/script-reprotect.ts';
import { bootstrapOptions, failbackOptions, promoteOptions, reprotectOptions } from '../../src/engines/postgresql/script-options.ts';
import { SUPERUSER, waitFor, type PgHarness, type PgServer, type RunResult, type ServerOptions } from './harness.ts';
import { context, fakeIO, scriptEnv } from './site.ts';

export const P_HOST = '127.0.0.1';
export const S_HOST = '127.0.0.2';

/** What a script printed and the report it left in its report file. */
export interface ScriptRun extends RunResult {
  report: RawReport | undefined;
}

export interface PairOptions extends ServerOptions {
  name?: string;
  /** Credentials the scripts replicate with (default: the harness's repl role). */
  replication?: { user: string; password: string };
}

export class Pair {
  readonly h: PgHarness;
  readonly name: string;
  readonly port: number;
  readonly pDir: string;
  readonly sDir: string;
  p: PgServer;
  s: PgServer | undefined;
  private readonly env: Record<string, string>;
  private runs = 0;

  private constructor(h: PgHarness, name: string, p: PgServer, env: Record<string, string>) {
    this.h = h;
    this.name = name;
    this.p = p;
    this.port = p.port;
    this.pDir = p.dataDir;
    this.sDir = join(h.root, `${name}-standby-0`);
    this.env = env;
  }

  /** P initdb'd and started; S not yet bootstrapped. */
  static async create(h: PgHarness, o: PairOptions = {}): Promise<Pair> {
    const name = o.name ?? 'pair';
    const p = await h.primary({ ...o, name: `${name}-primary` });
    const env = scriptEnv(o.replication ? { user: o.replication.user, password: o.replication.password } : {});
    return new Pair(h, name, p, env);
  }

  /** The site as the controller would hand it to the engine, with P at its port. */
  ctx(serving: Side = 'primary', synchronous = false): EngineContext {
    return context({ port: this.port, serving, synchronous });
  }

  readonly io = fakeIO({ endpoints: [P_HOST], standbyEndpoints: [S_HOST] });

  private async script(text: string, env: Record<string, string> = this.env): Promise<ScriptRun> {
    const file = join(this.h.root, `${this.name}-report-${++this.runs}.json`);
    const run = await this.h.runScript(text, env);
    const written = existsSync(file) ? readFileSync(file, 'utf8') : '';
    return { ...run, report: rawReport(written || run.stdout) };
  }

  private reportFile(): string {
    return join(this.h.root, `${this.name}-report-${this.runs + 1}.json`);
  }

  /** The standby's init container on S's data directory (bootstrap, restart, or re-protect forward), aimed at P. */
  async bootstrapS(synchronous = false): Promise<ScriptRun> {
    const opts = bootstrapOptions(this.ctx('primary', synchronous));
    const text = standbyBootstrapScript({ ...opts, primary: { ...opts.primary, host: P_HOST }, dataDirectory: this.sDir, reportFile: this.reportFile() });
    return this.script(text);
  }

  async startS(): Promise<PgServer> {
    this.s = await this.h.server(this.sDir, { host: S_HOST, port: this.port });
    return this.s;
  }

  async startP(): Promise<PgServer> {
    this.p = await this.h.server(this.pDir, { host: P_HOST, port: this.port });
    return this.p;
  }

  /** P with S streaming from it. */
  async protect(): Promise<void> {
    const run = await this.bootstrapS();
    if (run.code !== 0) throw new Error(`bootstrap failed: ${run.stderr}`);
    await this.startS();
    await waitFor(async () => (await observeReplication(this.ctx(), this.io)).lagSeconds === 0, 30_000, 'S streaming with lag 0');
  }

  /** The promote Job (failover: S replica 0), or the failback Job (P), as the operator runs them. */
  async promote(side: Side): Promise<RunResult> {
    const target = side === 'standby' ? { host: S_HOST, opts: promoteOptions(this.ctx()) } : { host: P_HOST, opts: failbackOptions(this.ctx('standby')) };
    const text = promoteScript({ ...target.opts, standby: { ...target.opts.standby, host: target.host, port: this.port }, timeoutSeconds: 60 });
    return this.h.runScript(text, { ...this.env, PGUSER: SUPERUSER.username, PGPASSWORD: SUPERUSER.password });
  }

  /** The re-protect Job on P's (stopped) data directory, or on another directory standing for P's volume. */
  async reprotectP(dataDirectory = this.pDir): Promise<ScriptRun> {
    const opts = reprotectOptions(this.ctx('standby'));
    const text = reprotectScript({ ...opts, serving: { ...opts.serving, host: S_HOST, port: this.port }, dataDirectory, timeoutSeconds: 60, reportFile: this.reportFile() });
    return this.script(text);
  }

  /** The side serving now, by asking the servers. */
  async serving(): Promise<PgServer> {
    for (const server of [this.p, this.s]) {
      if (!server) continue;
      try {
        const r = await server.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
        if (r[0]?.r === false) return server;
      } catch {
        // stopped
      }
    }
    throw new Error('no side serves');
  }

  /**
   * A planned switchover away from `from` (failback when from is the standby):
   * writes stop on it, the other side is polled until it has replayed
   * everything, then promoted; `switched` is called at once (the traffic
   * switch). Returns the steps' times in ms.
   */
  async switchover(from: Side, switched: (to: PgServer) => void): Promise<{ stopWritesMs: number; catchUpMs: number; promoteMs: number; polls: number }> {
    const ctx = this.ctx(from);
    const t0 = performance.now();
    const stop = await setWritable(ctx, this.io, false);
    if (!stop.ok) throw new Error(`stopping writes failed: ${stop.message}`);
    const t1 = performance.now();
    let polls = 0;
    let last = '';
    await waitFor(async () => {
      polls++;
      const c = await caughtUp(ctx, this.io);
      last = c.message;
      return c.caughtUp;
    }, 60_000, 'the other side to catch up', 10).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${last}`);
    });
    const t2 = performance.now();
    const to = from === 'standby' ? 'primary' : 'standby';
    const run = await this.promote(to);
    if (run.code !== 0) throw new Error(`promote failed: ${run.stderr}`);
    const t3 = performance.now();
    switched(to === 'primary' ? this.p : this.s!);
    return { stopWritesMs: t1 - t0, catchUpMs: t2 - t1, promoteMs: t3 - t2, polls };
  }

  /**
   * After a failback: S's pod restarts and its init container makes it P's standby again. Killed,
   * not stopped (it is fenced and P has everything): a clean shutdown's checkpoint would recycle
   * the WAL pg_rewind reads.
   */
  async reprotectForward(mode: 'fast' | 'immediate' = 'immediate'): Promise<ScriptRun> {
    await this.s?.stop(mode);
    const run = await this.bootstrapS();
    if (run.code !== 0) throw new Error(`re-protect forward failed: ${run.stderr}\n${run.stdout}`);
    await this.startS();
    return run;
  }

  /** After a failover or a switchover to S: P stops (killed, as above), the re-protect Job runs, P starts as S's standby. */
  async reprotectBack(mode: 'fast' | 'immediate' = 'immediate'): Promise<ScriptRun> {
    await this.p.stop(mode);
    const run = await this.reprotectP();
    if (run.code !== 0) throw new Error(`re-protect failed: ${run.stderr}\n${run.stdout}`);
    await this.startP();
    return run;
  }

  divergence(serving: Side = 'standby') {
    return divergence(this.ctx(serving), this.io);
  }

  /** Waits until the serving side's follower streams with lag 0, as observe() measures it. */
  async waitStreaming(serving: Side): Promise<void> {
    let last = '';
    await waitFor(async () => {
      const o = await observeReplication(this.ctx(serving), this.io);
      last = JSON.stringify(o);
      return o.streaming === true && o.lagSeconds === 0 && o.problem === undefined;
    }, 60_000, `replication with ${serving} serving`).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${last}\n--- P's log:\n${this.p.logTail(15)}\n--- S's log:\n${this.s?.logTail(15) ?? ''}`);
    });
  }
}

/** Count and checksum of a table's ids by phase, to compare sides. */
export async function fingerprint(server: PgServer, table = 'orders'): Promise<{ n: number; sum: string }> {
  const r = await server.query<{ n: number; sum: string }>(
    `SELECT count(*)::int AS n, md5(coalesce(string_agg(id::text || ':' || phase, ',' ORDER BY id), '')) AS sum FROM ${table}`,
  );
  return r[0]!;
}

export async function ids(server: PgServer, where = 'true', table = 'orders'): Promise<number[]> {
  return (await server.query<{ id: number }>(`SELECT id FROM ${table} WHERE ${where} ORDER BY id`)).map((r) => r.id);
}

/** Commits one row per statement (each its own transaction). */
export async function insertRows(server: PgServer, from: number, to: number, phase: string): Promise<number[]> {
  const c = await server.client();
  const done: number[] = [];
  try {
    for (let id = from; id <= to; id++) {
      await c.query('INSERT INTO orders (id, phase) VALUES ($1, $2)', [id, phase]);
      done.push(id);
    }
  } finally {
    await c.end();
  }
  return done;
}

export function pgbench(h: PgHarness, server: PgServer, args: string[]): Promise<RunResult> {
  return h.asPostgres([join(h.bin, 'pgbench'), '-h', server.socketDir, '-p', String(server.port), '-U', SUPERUSER.username, ...args, 'postgres']);
}

/** pgbench's count of committed transactions. */
export function processedOf(output: string): number {
  return Number(/number of transactions actually processed: (\d+)/.exec(output)?.[1] ?? 'NaN');
}

/** Where clients write: the Service in front of the serving side, switched by the failback. */
export interface Traffic {
  target: PgServer;
}

/**
 * Clients that commit one row per transaction into `acked` against the
 * traffic's target, record every acknowledged id with the time it was
 * acknowledged, and on any error reconnect (to the target as it is then)
 * and go on: what a well-behaved application does across a failback.
 */
export class Writers {
  readonly acks: { id: number; at: number }[] = [];
  errors = 0;
  private next = 0;
  private stopped = false;
  private readonly loops: Promise<void>[];

  constructor(traffic: Traffic, clients: number) {
    this.loops = Array.from({ length: clients }, () => this.loop(traffic));
  }

  private async loop(traffic: Traffic): Promise<void> {
    let c: Awaited<ReturnType<PgServer['client']>> | undefined;
    while (!this.stopped) {
      try {
        c ??= await traffic.target.client();
        const id = ++this.next;
        await c.query('INSERT INTO acked (id) VALUES ($1)', [id]);
        this.acks.push({ id, at: performance.now() });
      } catch {
        this.errors++;
        await c?.end().catch(() => undefined);
        c = undefined;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    await c?.end().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  /** The longest time without any acknowledged commit between two instants: how long writes were refused. */
  longestGap(from: number, to: number): number {
    const times = this.acks.map((a) => a.at).filter((t) => t >= from && t <= to).sort((a, b) => a - b);
    let gap = 0;
    for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
    return gap;
  }
}

export interface FailbackRun {
  /** The longest time no write was acknowledged around the failback, in ms. */
  refusedMs: number;
  stopWritesMs: number;
  catchUpMs: number;
  promoteMs: number;
  /** pgbench's committed transactions on the serving side before the fence ended its sessions. */
  pgbenchProcessed: number;
  /** pgbench_history rows this run added, on the final primary. */
  historyAdded: number;
  /** pgbench's tables on both sides right after the promotion (they must be equal). */
  servingTables: string;
  promotedTables: string;
  reprotectForward: RawReport | undefined;
  reprotectBack: RawReport | undefined;
}

async function pgbenchTables(server: PgServer): Promise<string> {
  const r = await server.query<{ t: string }>(
    "SELECT (SELECT count(*) FROM pgbench_history) || ' history rows, balance ' || (SELECT sum(abalance) FROM pgbench_accounts) AS t",
  );
  return r[0]!.t;
}

/**
 * One failback under load, from S serving with P its standby: pgbench and the
 * writers run against S; the failback (stop writes, catch up, promote P,
 * switch traffic) runs while they do; S is re-protected forward; then a
 * switchover back to S and P's re-protection restore the starting state.
 */
export async function failbackUnderLoad(pair: Pair, writers: Writers, traffic: Traffic, o: { rate: number; settleMs: number }): Promise<FailbackRun> {
  const s = pair.s!;
  const historyBefore = Number((await s.query<{ n: string }>('SELECT count(*)::text AS n FROM pgbench_history'))[0]!.n);
  const load = pgbench(pair.h, s, ['-n', '-c', '2', '-j', '1', '-T', '600', '-R', String(o.rate)]);
  await new Promise((r) => setTimeout(r, o.settleMs));
  const t0 = performance.now();
  const steps = await pair.switchover('standby', (to) => (traffic.target = to));
  const bench = await load;
  const servingTables = await pgbenchTables(s);
  const promotedTables = await pgbenchTables(pair.p);
  // Writes resumed on P: wait for a few acknowledgements there before measuring the gap.
  const resumedAt = performance.now();
  await waitFor(async () => Promise.resolve(writers.acks.some((a) => a.at > resumedAt + o.settleMs / 2)), 30_000, 'writes on the promoted primary');
  const refusedMs = writers.longestGap(t0 - o.settleMs, performance.now());
  const historyAfter = Number((await pair.p.query<{ n: string }>('SELECT count(*)::text AS n FROM pgbench_history'))[0]!.n);

  const forward = await pair.reprotectForward();
  await pair.waitStreaming('primary');
  // Back to the starting state (S serving, P its standby), unmeasured.
  await pair.switchover('primary', (to) => (traffic.target = to));
  const back = await pair.reprotectBack();
  await pair.waitStreaming('standby').catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n--- the re-protect Job:\n${back.stdout}`);
  });
  return {
    refusedMs,
    ...steps,
    pgbenchProcessed: processedOf(bench.stdout),
    historyAdded: historyAfter - historyBefore,
    servingTables,
    promotedTables,
    reprotectForward: forward.report,
    reprotectBack: back.report,
  };
}

/** One re-protection's copy: what the Job reported and how long it took. */
export interface CopyRun {
  report: RawReport | undefined;
  ms: number;
}

export interface CopyComparison {
  /** The serving side's databases, in bytes. */
  databaseBytes: number;
  rewind: CopyRun;
  baseBackup: CopyRun;
}

/**
 * The same re-protection two ways on one pgbench database: after a failover
 * and some writes on both sides (P divergent), the re-protect Job rewinds P's
 * data directory and P streams from S; then, P stopped again, the same Job
 * runs into an empty directory, which it can only re-seed with a base backup
 * of S. Throws when a step fails; the caller judges the reports.
 */
export async function rewindVersusBaseBackup(h: PgHarness, o: { scale: number; conf?: Record<string, string> }): Promise<CopyComparison> {
  const pair = await Pair.create(h, { name: 'compare', conf: { wal_log_hints: 'on', max_wal_size: '2GB', ...o.conf } });
  // Server-side data generation (G): the fastest way to a large database on two cores.
  const init = await pgbench(h, pair.p, ['-i', '-s', String(o.scale), '-I', 'dtGvp', '-q']);
  if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
  await pair.protect();
  const promoted = await pair.promote('standby');
  if (promoted.code !== 0) throw new Error(`promote failed: ${promoted.stderr}`);
  for (const side of [pair.s!, pair.p]) {
    const load = await pgbench(h, side, ['-n', '-c', '2', '-j', '1', '-t', '200']);
    if (load.code !== 0) throw new Error(`pgbench failed: ${load.stderr}`);
  }
  const databaseBytes = Number((await pair.s!.query<{ b: string }>('SELECT sum(pg_database_size(datname))::text AS b FROM pg_database'))[0]!.b);

  await pair.p.stop('immediate');
  let t = performance.now();
  const rewound = await pair.reprotectP();
  const rewind = { report: rewound.report, ms: performance.now() - t };
  if (rewound.code !== 0) throw new Error(`re-protect (rewind) failed: ${rewound.stderr}\n${rewound.stdout}`);
  await pair.startP();
  await pair.waitStreaming('standby');
  await pair.p.stop('fast');

  t = performance.now();
  const seeded = await pair.reprotectP(join(h.root, 'compare-reseeded'));
  const baseBackup = { report: seeded.report, ms: performance.now() - t };
  if (seeded.code !== 0) throw new Error(`re-protect (base backup) failed: ${seeded.stderr}\n${seeded.stdout}`);
  return { databaseBytes, rewind, baseBackup };
}
