import { describe, expect, test } from 'vitest';
import {
  assessReplication,
  assessWithoutPrimary,
  lagSeconds,
  type ReplicationRow,
  type SlotRow,
  type StandbyRow,
} from '../../../../src/engines/postgresql/lag.ts';

const row = (o: Partial<ReplicationRow> = {}): ReplicationRow => ({
  application_name: 's_0',
  state: 'streaming',
  sync_state: 'async',
  flush_behind_bytes: 0,
  replay_behind_bytes: 0,
  flush_lag_seconds: null,
  replay_lag_seconds: null,
  reply_age_seconds: null,
  synchronous_standby_names: '',
  ...o,
});
const slot = (o: Partial<SlotRow> = {}): SlotRow => ({ slot_name: 's_0', active: true, wal_status: 'reserved', retained_bytes: 1024, ...o });
const base = { expected: ['s_0'], synchronous: false, role: 'repl', secret: 'db-repl' };

describe('replication lag from pg_stat_replication', () => {
  test('caught up is 0 even when the server shows an old lag or none', () => {
    expect(lagSeconds(row({ replay_lag_seconds: 3 }))).toBe(0);
    expect(lagSeconds(row())).toBe(0);
  });

  test('behind: replay lag, else flush lag, else the time since the last reply, else unknown', () => {
    expect(lagSeconds(row({ replay_behind_bytes: 10, replay_lag_seconds: 2.5, flush_lag_seconds: 0.1 }))).toBe(2.5);
    expect(lagSeconds(row({ replay_behind_bytes: 10, flush_lag_seconds: 0.1 }))).toBe(0.1);
    expect(lagSeconds(row({ replay_behind_bytes: 10, reply_age_seconds: 0.4 }))).toBe(0.4);
    expect(lagSeconds(row({ replay_behind_bytes: 10, reply_age_seconds: -0.002 }))).toBe(0);
    expect(lagSeconds(row({ replay_behind_bytes: 10 }))).toBeUndefined();
    expect(lagSeconds(row({ replay_behind_bytes: null }))).toBeUndefined();
  });

  test('a streaming replica 0 gives the lag; the base backup’s own walsender with the same name is ignored', () => {
    const rows = [row({ state: 'backup', replay_behind_bytes: null }), row({ replay_behind_bytes: 5, replay_lag_seconds: 1.2 })];
    expect(assessReplication({ ...base, rows, slots: [slot()] })).toEqual({ streaming: true, lagSeconds: 1.2 });
  });

  test('hidden positions: the role needs pg_monitor', () => {
    const out = assessReplication({ ...base, rows: [row({ state: null, replay_behind_bytes: null })], slots: [] });
    expect(out.problem).toBe(
      'role "repl" (Secret db-repl) cannot read the replication positions in pg_stat_replication; grant it pg_monitor (GRANT pg_monitor TO "repl") or pg_read_all_stats',
    );
  });

  test('not streaming: says why from the slot', () => {
    expect(assessReplication({ ...base, rows: [], slots: [] })).toEqual({
      streaming: false,
      problem: 'standby replica s_0 is not connected to the primary; its replication slot does not exist on the primary yet (the replica has not bootstrapped)',
    });
    expect(assessReplication({ ...base, rows: [row({ state: 'catchup' })], slots: [slot({ active: true, retained_bytes: 5 * 1024 * 1024 })] }).problem).toBe(
      'standby replica s_0 is not streaming from the primary (state catchup); its replication slot is active and retains 5 MiB of WAL',
    );
    expect(assessReplication({ ...base, rows: [], slots: [slot({ active: false, wal_status: 'lost', retained_bytes: null })] }).problem).toContain(
      'the WAL it needs was removed: the replica must be bootstrapped again (delete its PVC)',
    );
  });

  test('synchronous mode: a replica the primary treats as async is a problem', () => {
    const out = assessReplication({ ...base, synchronous: true, rows: [row({ sync_state: 'async', synchronous_standby_names: '' })], slots: [slot()] });
    expect(out.lagSeconds).toBe(0);
    expect(out.problem).toMatch(/^synchronous replication is requested but the primary treats standby replica s_0 as async \(synchronous_standby_names is ''\)/);
    expect(assessReplication({ ...base, synchronous: true, rows: [row({ sync_state: 'sync' })], slots: [slot()] })).toEqual({ streaming: true, lagSeconds: 0 });
  });

  test('other replicas and orphaned slots are reported without hiding replica 0’s lag', () => {
    const out = assessReplication({
      ...base,
      expected: ['s_0', 's_1'],
      rows: [row()],
      slots: [slot(), slot({ slot_name: 's_1', active: false }), slot({ slot_name: 's_2', active: false, retained_bytes: 3 * 1024 ** 3 })],
    });
    expect(out.lagSeconds).toBe(0);
    expect(out.problem).toBe(
      'standby replica s_1 is not connected to the primary; its replication slot is inactive and retains 1 KiB of WAL; ' +
        "replication slot s_2 on the primary belongs to no standby replica and retains 3.0 GiB of WAL; drop it: SELECT pg_drop_replication_slot('s_2')",
    );
  });
});

describe('replica 0 judged without the primary', () => {
  const standby = (o: Partial<StandbyRow> = {}): { row: StandbyRow } => ({
    row: { in_recovery: true, slot_name: 's_0', received_lsn: '0/3000060', beyond_bytes: 0, ...o },
  });
  const last = { lsn: '0/3000060', at: new Date('2026-01-01T00:00:00Z'), lagSeconds: 0.2 };
  const now = new Date('2026-01-01T00:00:12Z');
  const reason = 'cannot reach the primary at 10.0.0.5:5432: connect ECONNREFUSED';

  test('holding the primary’s last seen position: the lag measured then', () => {
    expect(assessWithoutPrimary({ reason, target: 's_0', standby: standby({ beyond_bytes: 512 }), last, now })).toEqual({
      streaming: false,
      lagSeconds: 0.2,
      problem: `${reason}; standby replica s_0 holds all WAL up to 0/3000060, the primary's position 12s ago, when its lag was 0.2s`,
    });
  });

  test('short of it, never seen it, promoted, or unreachable: no lag', () => {
    const short = assessWithoutPrimary({ reason, target: 's_0', standby: standby({ received_lsn: '0/2000000', beyond_bytes: -100 }), last, now });
    expect(short.lagSeconds).toBeUndefined();
    expect(short.problem).toBe(`${reason}; standby replica s_0 holds WAL only up to 0/2000000, short of 0/3000060, the primary's position 12s ago`);
    const unseen = assessWithoutPrimary({ reason, target: 's_0', standby: standby({ beyond_bytes: null }), last: undefined, now });
    expect(unseen.lagSeconds).toBeUndefined();
    expect(unseen.problem).toContain("the operator has not seen the primary's WAL position since it started");
    expect(assessWithoutPrimary({ reason, target: 's_0', standby: standby({ in_recovery: false }), last, now }).problem).toBe(
      `${reason}; standby replica s_0 is not in recovery: it has been promoted`,
    );
    expect(assessWithoutPrimary({ reason, target: 's_0', standby: { problem: 'Service x has no endpoints' }, last, now })).toEqual({
      streaming: false,
      problem: `${reason}; standby replica s_0 cannot be reached either: Service x has no endpoints`,
    });
  });
});
