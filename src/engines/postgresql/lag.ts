// From the primary's replication views to what status shows: the lag of the
// replica promotion would promote, whether it streams, and a sentence for
// anything wrong. Pure.
import type { EngineObservation } from '../engine.ts';

/** One row of REPLICATION_SQL. */
export interface ReplicationRow {
  application_name: string;
  state: string | null;
  sync_state: string | null;
  flush_behind_bytes: number | null;
  replay_behind_bytes: number | null;
  flush_lag_seconds: number | null;
  replay_lag_seconds: number | null;
  /** Seconds since the replica's last status reply. */
  reply_age_seconds: number | null;
  synchronous_standby_names: string;
}

/** One row of SLOTS_SQL. */
export interface SlotRow {
  slot_name: string;
  active: boolean;
  wal_status: string | null;
  retained_bytes: number | null;
}

export interface LagInput {
  rows: readonly ReplicationRow[];
  slots: readonly SlotRow[];
  /** Application names of the replicas, replica 0 (the promotion target) first. */
  expected: readonly string[];
  synchronous: boolean;
  /** The role the engine reads with and the Secret it came from, for the privilege message. */
  role: string;
  secret: string;
}

function size(bytes: number | null): string {
  if (bytes === null) return 'an unknown amount';
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KiB`;
  if (bytes < 1024 * 1024 * 1024) return `${Math.round(bytes / (1024 * 1024))} MiB`;
  return `${(bytes / (1024 * 1024 * 1024)).toFixed(1)} GiB`;
}

/**
 * The data age of one streaming replica in seconds: 0 when it has replayed
 * everything the primary wrote; otherwise the server's replay_lag (the time
 * since the newest WAL the replica replayed was flushed on the primary; it
 * grows while replay is stuck), falling back to flush_lag. Replay, not only
 * flush, is counted because a promotion waits for replay too.
 *
 * The server shows no lag for a moment after a replica was fully caught up in
 * two replies in a row and new WAL came before its next reply: then all it
 * lacks is WAL sent after that last reply, so the time since the reply bounds
 * the lag. Undefined when nothing is known.
 */
export function lagSeconds(row: ReplicationRow): number | undefined {
  if (row.replay_behind_bytes === null) return undefined;
  if (row.replay_behind_bytes <= 0) return 0;
  const lag = row.replay_lag_seconds ?? row.flush_lag_seconds ?? row.reply_age_seconds ?? undefined;
  // reply_time is the replica's clock: a clock ahead of the primary's must not make the lag negative.
  return lag === undefined ? undefined : Math.max(0, lag);
}

/** The walsender row of a replica: the streaming one if several share the name (a bootstrap's base backup also does). */
function rowOf(rows: readonly ReplicationRow[], name: string): ReplicationRow | undefined {
  const mine = rows.filter((r) => r.application_name === name);
  return mine.find((r) => r.state === 'streaming') ?? mine[0];
}

function notStreaming(name: string, row: ReplicationRow | undefined, slot: SlotRow | undefined): string {
  const slotText = slot
    ? `its replication slot is ${slot.active ? 'active' : 'inactive'} and retains ${size(slot.retained_bytes)} of WAL${slot.wal_status === 'lost' ? ', and the WAL it needs was removed: the replica must be bootstrapped again (delete its PVC)' : ''}`
    : 'its replication slot does not exist on the primary yet (the replica has not bootstrapped)';
  if (row?.state) return `standby replica ${name} is not streaming from the primary (state ${row.state}); ${slotText}`;
  return `standby replica ${name} is not connected to the primary; ${slotText}`;
}

export function assessReplication(i: LagInput): EngineObservation {
  const [target, ...others] = i.expected;
  if (target === undefined) return {};
  const problems: string[] = [];
  const row = rowOf(i.rows, target);
  // Without pg_read_all_stats the server hides everything but the name.
  if (row && row.state === null) {
    return {
      problem: `role "${i.role}" (Secret ${i.secret}) cannot read the replication positions in pg_stat_replication; grant it pg_monitor (GRANT pg_monitor TO "${i.role}") or pg_read_all_stats`,
    };
  }
  const slotOf = (name: string) => i.slots.find((s) => s.slot_name === name);
  const streaming = row?.state === 'streaming';
  let lag: number | undefined;
  if (streaming) {
    lag = lagSeconds(row);
    if (i.synchronous && row.sync_state !== 'sync' && row.sync_state !== 'quorum') {
      problems.push(
        `synchronous replication is requested but the primary treats standby replica ${target} as ${row.sync_state ?? 'unknown'} (synchronous_standby_names is '${row.synchronous_standby_names}'); the standby's bootstrap container sets it with the superuser credentials: see its log`,
      );
    }
  } else {
    problems.push(notStreaming(target, row, slotOf(target)));
  }
  for (const name of others) {
    const r = rowOf(i.rows, name);
    if (r?.state !== 'streaming') problems.push(notStreaming(name, r, slotOf(name)));
  }
  // Slots of replicas that no longer exist (scaled down) keep WAL on the primary forever.
  for (const s of i.slots) {
    if (!i.expected.includes(s.slot_name) && !s.active) {
      problems.push(
        `replication slot ${s.slot_name} on the primary belongs to no standby replica and retains ${size(s.retained_bytes)} of WAL; drop it: SELECT pg_drop_replication_slot('${s.slot_name}')`,
      );
    }
  }
  return {
    streaming,
    ...(lag !== undefined ? { lagSeconds: lag } : {}),
    ...(problems.length ? { problem: problems.join('; ') } : {}),
  };
}

/** The primary as the engine last saw it: its WAL position and replica 0's lag then. */
export interface LastSeen {
  lsn: string;
  at: Date;
  lagSeconds: number;
}

/** One row of STANDBY_STATE_SQL. */
export interface StandbyRow {
  in_recovery: boolean;
  slot_name: string;
  received_lsn: string | null;
  beyond_bytes: number | null;
}

export interface WithoutPrimaryInput {
  /** Why the primary could not be measured. */
  reason: string;
  /** Replica 0's name (its slot). */
  target: string;
  /** Replica 0's own view, or why it could not be had. */
  standby: { row: StandbyRow } | { problem: string };
  last: LastSeen | undefined;
  now: Date;
}

/**
 * The lag when the primary cannot be reached, which is exactly when a
 * promotion needs it, judged as Patroni does: from the primary's last WAL
 * position the engine saw. A replica 0 that holds WAL up to that position
 * lost nothing committed before then; its lag is the lag measured then.
 * (What the primary wrote between that probe and its failure is unknowable.)
 */
export function assessWithoutPrimary(i: WithoutPrimaryInput): EngineObservation {
  if ('problem' in i.standby) return { streaming: false, problem: `${i.reason}; standby replica ${i.target} cannot be reached either: ${i.standby.problem}` };
  const row = i.standby.row;
  if (!row.in_recovery) return { streaming: false, problem: `${i.reason}; standby replica ${i.target} is not in recovery: it has been promoted` };
  if (!i.last) {
    return {
      streaming: false,
      problem: `${i.reason}; the lag of standby replica ${i.target} cannot be judged: the operator has not seen the primary's WAL position since it started (replica ${i.target} holds WAL up to ${row.received_lsn ?? 'nothing'})`,
    };
  }
  const ago = Math.round((i.now.getTime() - i.last.at.getTime()) / 1000);
  if (row.beyond_bytes === null || row.beyond_bytes < 0) {
    return {
      streaming: false,
      problem: `${i.reason}; standby replica ${i.target} holds WAL only up to ${row.received_lsn ?? 'nothing'}, short of ${i.last.lsn}, the primary's position ${ago}s ago`,
    };
  }
  return {
    streaming: false,
    lagSeconds: i.last.lagSeconds,
    problem: `${i.reason}; standby replica ${i.target} holds all WAL up to ${i.last.lsn}, the primary's position ${ago}s ago, when its lag was ${i.last.lagSeconds}s`,
  };
}
