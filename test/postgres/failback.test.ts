// Failback under a steady load against real servers: pgbench and writers
// that record every acknowledged commit run against the serving standby
// while the engine stops its writes, waits until the re-protected primary has
// replayed everything and promotes it; the writers then follow the traffic to
// it. No acknowledged commit may be missing on the final primary, and the
// time no write was acknowledged is measured and printed (not asserted).
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { forgetPrimaries } from '../../src/engines/postgresql/observe.ts';
import { PgHarness } from './harness.ts';
import { failbackUnderLoad, pgbench, Pair, Writers, type FailbackRun, type Traffic } from './lifecycle.ts';

let h: PgHarness;
beforeEach(async () => {
  h = await PgHarness.create();
  forgetPrimaries();
});
afterEach(async () => {
  await h.cleanup();
});

describe('failback under load (PostgreSQL engine)', () => {
  test('loses no acknowledged commit and no pgbench transaction; writes resume on the promoted primary; the time writes were refused is measured', { timeout: 600_000 }, async () => {
    const pair = await Pair.create(h, { conf: { wal_log_hints: 'on' } });
    const init = await pgbench(h, pair.p, ['-i', '-s', '5', '-q']);
    expect(init.code, init.stderr).toBe(0);
    await pair.p.query('CREATE TABLE acked (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())');
    await pair.protect();
    // Failover, then re-protection: S serves, P is its standby.
    expect((await pair.promote('standby')).code).toBe(0);
    await pair.reprotectBack();
    await pair.waitStreaming('standby');

    const traffic: Traffic = { target: pair.s! };
    const writers = new Writers(traffic, 4);
    const runs: FailbackRun[] = [];
    try {
      for (let i = 0; i < 3; i++) runs.push(await failbackUnderLoad(pair, writers, traffic, { rate: 100, settleMs: 1500 }));
    } finally {
      await writers.stop();
    }

    for (const run of runs) {
      // Everything pgbench committed on S before the fence is on P, and nothing else: the same tables on both right after promotion.
      expect(run.promotedTables).toBe(run.servingTables);
      expect(run.pgbenchProcessed).toBeGreaterThan(0);
      expect(run.historyAdded).toBeGreaterThanOrEqual(run.pgbenchProcessed);
      expect(run.refusedMs).toBeGreaterThan(0);
      expect(run.reprotectForward?.method).toBe('rewind');
      expect(run.reprotectBack?.method).toBe('rewind');
    }
    // Every acknowledged commit, across all failbacks and switchovers, is on the final primary.
    const final = await pair.serving();
    const present = new Set((await final.query<{ id: string }>('SELECT id::text FROM acked')).map((r) => Number(r.id)));
    const missing = writers.acks.filter((a) => !present.has(a.id));
    expect(writers.acks.length).toBeGreaterThan(100);
    expect(missing).toEqual([]);
    const refused = runs.map((r) => Math.round(r.refusedMs)).sort((a, b) => a - b);
    const steps = runs.map((r) => `stop writes ${Math.round(r.stopWritesMs)} + catch up ${Math.round(r.catchUpMs)} + promote ${Math.round(r.promoteMs)} ms`);
    console.log(
      `failback under load: writes refused for ${refused.join(', ')} ms (${writers.acks.length} acknowledged commits, ${writers.errors} refused attempts); ${steps.join('; ')}`,
    );
  });
});
