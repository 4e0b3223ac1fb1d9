// The re-protect Job's script: the old primary's data directory becomes a
// standby of the serving side.
import { baseBackupArgv, isReadyArgv, psqlArgv, serverConninfo, type ServerAddress } from './commands.ts';
import { EMPTY_DATA, HEADER, TERMINATION_LOG } from './script-parts.ts';
import { rewindLib } from './script-rewind.ts';
import { piped, quote, render, shellVar } from './shell.ts';
import { ensureSlotSql, IN_RECOVERY_SQL } from './sql.ts';

export interface ReprotectOptions {
  /** The serving side (the promoted standby, replica 0) that this data directory is to follow. */
  serving: ServerAddress;
  dataDirectory: string;
  /** The slot created on the serving side for this side; also its application_name. */
  slot: string;
  /** How long the serving side may take to accept connections. */
  timeoutSeconds: number;
  reportFile?: string;
}

/**
 * The re-protect Job: makes the old primary's stopped data directory a
 * streaming standby of the serving side, without touching the primary's pod
 * template. It creates this side's physical slot on the serving side (WAL
 * reserved before anything is copied), then rewinds the data directory with
 * pg_rewind when it can (data checksums or wal_log_hints; the dry run tells
 * how much WAL only this side holds, and pg_waldump how many commits), else
 * re-seeds it with a base backup of the serving side, keeping the data
 * directory's own configuration files either way. Then standby.signal,
 * primary_conninfo and primary_slot_name, so that the primary's own postgres
 * starts as a standby. The report (method, bytes moved, divergence) goes to
 * the termination message. Safe to run again: a standby already is only
 * re-configured, and a completed rewind is never repeated.
 */
export function reprotectScript(o: ReprotectOptions): string {
  const serving = serverConninfo(o.serving);
  const where = `${o.serving.host}:${o.serving.port}`;
  const t = Math.max(1, Math.round(o.timeoutSeconds));
  return [
    ...HEADER,
    `data=${quote(o.dataDirectory)}`,
    `slot=${quote(o.slot)}`,
    'export PGAPPNAME="$slot"',
    ...rewindLib({ source: o.serving, keepConfig: true, extraSettings: ['hot_standby = on'], reportFile: o.reportFile ?? TERMINATION_LOG }),
    `deadline=$(( $(date +%s) + ${t} ))`,
    `until ${render(isReadyArgv(serving))}; do`,
    `  if [ "$(date +%s)" -ge "$deadline" ]; then echo "the serving side at ${where} did not accept connections within ${t}s" >&2; exit 1; fi`,
    '  sleep 2',
    'done',
    `if [ "$(${render(psqlArgv({ conninfo: serving, tuplesOnly: true, command: IN_RECOVERY_SQL }))})" != f ]; then`,
    `  echo "the server at ${where} is in recovery: it is not serving, so there is nothing to follow" >&2`,
    '  exit 1',
    'fi',
    `echo "re-protecting $data as a standby of the serving side at ${where} through slot $slot"`,
    piped(ensureSlotSql(), psqlArgv({ conninfo: serving, tuplesOnly: true, vars: { slot: shellVar('slot') } })),
    'if [ -f "$data/PG_VERSION" ] && [ -f "$data/standby.signal" ]; then',
    "  reason='the data directory is a standby already (an earlier run completed its copy)'",
    'elif [ -f "$data/PG_VERSION" ] && rewound_earlier; then',
    "  method=rewind reason='an earlier run rewound the data directory'",
    'elif [ -f "$data/PG_VERSION" ] && [ -f "$data/postmaster.opts" ]; then',
    '  try_rewind || reseed=yes',
    'else',
    "  reason='the data directory is empty or was never started (an interrupted copy)' reseed=yes",
    'fi',
    'if [ "${reseed:-}" = yes ]; then',
    '  echo "re-seeding $data with a base backup of the serving side: $reason"',
    '  save_config',
    ...EMPTY_DATA,
    render(baseBackupArgv({ conninfo: serving, dataDirectory: shellVar('data'), slot: shellVar('slot'), standby: false })),
    '  method=basebackup bytes=$(( $(du -sk "$data" | cut -f1) * 1024 ))',
    'fi',
    'finish_standby',
    'report',
    `echo "$data is a standby of the serving side at ${where} (copy: $method); the workload's own postgres starts streaming through slot $slot"`,
  ].join('\n');
}
