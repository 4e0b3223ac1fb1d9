// The decisions of re-protection and failback over what SQL read from both
// sides: what only the old primary holds (its divergence from the serving
// side), and whether the side that takes over in a failback has everything
// the serving side committed. Pure.
import type { CaughtUp, Divergence } from '../engine.ts';
import { forkPoint, lsnDiff, parseHistory, parseLsn } from './lsn.ts';

/** One row of OLD_PRIMARY_SQL. */
export interface OldPrimaryRow {
  in_recovery: boolean;
  system_id: string;
  timeline: number;
  lsn: string | null;
  checksums: boolean;
  wal_log_hints: boolean;
  wal_keep_bytes: number;
  max_wal_bytes: number;
  restores_wal: boolean;
  /** Where its oldest WAL file begins, in bytes (numeric as text); null when it lists none. */
  oldest_wal_byte: string | null;
}

/** One row of SERVING_HISTORY_SQL. */
export interface ServingHistoryRow {
  in_recovery: boolean;
  system_id: string;
  timeline: number;
  history: string | null;
}

export interface DivergenceInput {
  /** The side that stopped serving (the old primary), or why it could not be read. */
  old: { row: OldPrimaryRow; where: string } | { problem: string };
  serving: { row: ServingHistoryRow; where: string } | { problem: string };
}

function bytesText(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  return `${(n / (1024 * 1024 * 1024)).toFixed(1)} GiB`;
}

/**
 * What only the old primary holds: its WAL on the timeline the serving side
 * left, from where the serving side's timeline began (the fork point in the
 * serving side's history) to the old primary's last flushed position. The
 * bytes are WAL, not rows: a restart's checkpoint diverges too. The rewind
 * Job reports the same from the data directory (and how many commits).
 */
export function assessDivergence(i: DivergenceInput): Divergence {
  if ('problem' in i.old) return { message: `the divergence cannot be measured: ${i.old.problem}; the re-protect Job reports it from the data directory` };
  if ('problem' in i.serving) return { message: `the divergence cannot be measured: ${i.serving.problem}` };
  const old = i.old.row;
  const serving = i.serving.row;
  const fork = forkPoint(parseHistory(serving.history), old.timeline);
  const pages = old.checksums || old.wal_log_hints;
  // pg_rewind reads the old primary's WAL from its last checkpoint before the fork: gone for sure when its oldest file begins after the fork.
  const oldest = old.oldest_wal_byte !== null ? BigInt(old.oldest_wal_byte.replace(/\..*$/, '')) : undefined;
  const forkByte = parseLsn(fork);
  const walGone = oldest !== undefined && forkByte !== undefined && oldest > forkByte;
  const rewindable = pages && !walGone;
  const keeps = old.restores_wal || old.wal_keep_bytes >= old.max_wal_bytes;
  let rewindText: string;
  if (!pages) rewindText = 'it cannot be rewound (neither data checksums nor wal_log_hints = on): re-protection copies the whole database';
  else if (walGone) rewindText = `it cannot be rewound: its WAL before the fork is gone (its oldest WAL file begins after ${fork!}), so re-protection copies the whole database; keep WAL with wal_keep_size or a WAL archive (restore_command)`;
  else if (!keeps) {
    rewindText = `it can be rewound (${old.checksums ? 'data checksums' : 'wal_log_hints = on'}) while its WAL since its last checkpoint before the fork lasts: it keeps no more than that (wal_keep_size ${bytesText(old.wal_keep_bytes)}, below max_wal_size ${bytesText(old.max_wal_bytes)}, and no restore_command), so a checkpoint of its own, even at shutdown, can leave re-protection to copy the whole database`;
  } else rewindText = `it can be rewound (${old.checksums ? 'data checksums' : 'wal_log_hints = on'}; its WAL ${old.restores_wal ? 'comes from its archive' : 'is kept by wal_keep_size'})`;
  const base = { rewindable, timeline: old.timeline };
  if (old.system_id !== serving.system_id) {
    return {
      ...base,
      rewindable: false,
      message: `the old primary at ${i.old.where} (system ${old.system_id}) and the serving side at ${i.serving.where} (system ${serving.system_id}) are different clusters: nothing can be rewound, re-protection copies the whole database`,
    };
  }
  if (serving.in_recovery) return { ...base, message: `the serving side at ${i.serving.where} is in recovery: it has not been promoted` };
  if (fork === undefined) {
    return {
      ...base,
      message: `the serving side at ${i.serving.where} (timeline ${serving.timeline}) did not fork from timeline ${old.timeline} of the old primary at ${i.old.where}; pg_rewind finds their common point itself; ${rewindText}`,
    };
  }
  const beyond = lsnDiff(old.lsn, fork);
  if (beyond === undefined) return { ...base, from: fork, message: `the old primary at ${i.old.where} shows no WAL position; ${rewindText}` };
  if (beyond <= 0) {
    return {
      ...base,
      from: fork,
      to: old.lsn ?? fork,
      bytes: 0,
      message: `the old primary at ${i.old.where} holds nothing the serving side lacks (its WAL ends at ${old.lsn ?? '?'}, the serving side's timeline ${serving.timeline} began at ${fork}); ${rewindText}`,
    };
  }
  return {
    ...base,
    from: fork,
    to: old.lsn!,
    bytes: beyond,
    message: `the old primary at ${i.old.where} holds ${bytesText(beyond)} of WAL (${fork} to ${old.lsn!} on timeline ${old.timeline}) that the serving side never received: writes after the serving side took over; ${rewindText}`,
  };
}

/** One row of SERVING_FLUSH_SQL. */
export interface ServingFlushRow {
  in_recovery: boolean;
  flush_lsn: string | null;
  timeline: number | null;
  writers: number;
  read_only: boolean;
}

/** One row of REPLAY_SQL. */
export interface ReplayRow {
  in_recovery: boolean;
  replay_lsn: string | null;
  receive_lsn: string | null;
  received_timeline: number | null;
  slot_name: string;
}

export interface CaughtUpInput {
  serving: { row: ServingFlushRow; where: string } | { problem: string };
  /** The side that would take over (the declared primary in a failback). */
  taking: { row: ReplayRow; where: string } | { problem: string };
}

/**
 * Whether the side taking over has replayed everything the serving side
 * flushed, read after the serving side's writes stopped: its replay LSN has
 * reached the serving side's flush LSN, and no client session on the serving
 * side still holds a transaction id (one could commit after the read). Only
 * then is promoting it lossless.
 */
export function assessCaughtUp(i: CaughtUpInput): CaughtUp {
  if ('problem' in i.serving) return { caughtUp: false, message: `cannot read the serving side's WAL position: ${i.serving.problem}` };
  const s = i.serving.row;
  if (s.in_recovery || !s.flush_lsn) return { caughtUp: false, message: `the server at ${i.serving.where} is in recovery: it is not the serving side` };
  const servingLsn = s.flush_lsn;
  if ('problem' in i.taking) return { caughtUp: false, servingLsn, message: `cannot read how far the other side has replayed: ${i.taking.problem}` };
  const t = i.taking.row;
  const where = i.taking.where;
  if (!t.in_recovery) return { caughtUp: false, servingLsn, message: `the server at ${where} is not in recovery: it is no standby of the serving side` };
  const replayLsn = t.replay_lsn ?? undefined;
  const ids = { servingLsn, ...(replayLsn ? { replayLsn } : {}) };
  if (s.writers > 0) {
    return {
      caughtUp: false,
      ...ids,
      message: `${s.writers} client session${s.writers === 1 ? '' : 's'} on the serving side at ${i.serving.where} still ${s.writers === 1 ? 'holds' : 'hold'} a write transaction: writes have not stopped`,
    };
  }
  const behind = lsnDiff(servingLsn, replayLsn);
  if (behind === undefined) return { caughtUp: false, ...ids, message: `${where} shows no replay position yet` };
  if (t.received_timeline !== null && s.timeline !== null && t.received_timeline !== s.timeline) {
    return {
      caughtUp: false,
      ...ids,
      message: `${where} receives timeline ${t.received_timeline}, the serving side writes timeline ${s.timeline}: it does not follow the serving side`,
    };
  }
  if (behind > 0) {
    return { caughtUp: false, ...ids, message: `${where} has replayed up to ${replayLsn!}, ${bytesText(behind)} short of the serving side's flush position ${servingLsn}` };
  }
  return {
    caughtUp: true,
    ...ids,
    message: `${where} has replayed up to ${replayLsn!}, everything the serving side at ${i.serving.where} flushed (${servingLsn}), with no write transaction open there`,
  };
}
