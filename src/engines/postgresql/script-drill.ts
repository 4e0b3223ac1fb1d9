// A drill's two Job scripts: the copy of the hot standby into the scratch
// volume, and the check of that copy.
import { baseBackupArgv, conninfo, isReadyArgv, psqlArgv, serverConninfo, verifyBackupArgv, type ServerAddress } from './commands.ts';
import { appendConfig, EMPTY_DATA, HEADER, NO_SYNCHRONOUS_STANDBYS } from './script-parts.ts';
import { quote, render, sh, shellVar } from './shell.ts';
import { IN_RECOVERY_SQL, NEWEST_REPLAYED_COMMIT_SQL } from './sql.ts';

export interface DrillCopyOptions {
  /** The hot standby (replica 0): the drill reads from it, never from the primary. */
  standby: ServerAddress;
  dataDirectory: string;
  applicationName: string;
}

/** Settings that make a drill's copy replay what it holds, then leave recovery on its own, never reaching for the primary. */
const DRILL_RECOVERY = [
  "# a drill's copy never follows the primary: recovery.signal replays the WAL the backup holds, then promotes",
  "primary_conninfo = ''",
  "primary_slot_name = ''",
  "restore_command = 'false'",
];

/**
 * A drill of the hot tier: a base backup taken from the running standby into the drill's scratch
 * volume (pg_basebackup reads a standby as it reads a primary; the primary does no extra work),
 * verified against its manifest. A backup of a standby carries its standby.signal and
 * primary_conninfo: the copy gets recovery.signal instead, so that it replays what the backup
 * holds and then leaves recovery, as the standby does when a failover promotes it.
 */
export function drillCopyScript(o: DrillCopyOptions): string {
  const standby = serverConninfo(o.standby);
  return [
    ...HEADER,
    `data=${quote(o.dataDirectory)}`,
    `export PGAPPNAME=${quote(o.applicationName)}`,
    ...EMPTY_DATA,
    `echo "copying the standby at ${o.standby.host}:${o.standby.port} into $data (the primary is not read)"`,
    render(baseBackupArgv({ conninfo: standby, dataDirectory: shellVar('data'), standby: false })),
    render(verifyBackupArgv(shellVar('data'))),
    'rm -f "$data/standby.signal"',
    ': > "$data/recovery.signal"',
    appendConfig([...NO_SYNCHRONOUS_STANDBYS, ...DRILL_RECOVERY]),
    'echo "drill copy complete and verified"',
  ].join('\n');
}

export interface DrillVerifyOptions {
  /** The scratch copy: its host is the scratch pod's IP, from $DRILL_HOST. */
  port: number;
  database: string;
  /** How long the server may take to accept connections and to leave recovery. */
  timeoutSeconds: number;
  /** Where the newest commit is reported for the operator (the container's terminationMessagePath). */
  terminationLog: string;
}

/**
 * A drill's verification of its scratch copy: it accepts connections, has left recovery (every
 * tier's failover ends with a primary: hot promotes the standby, warm and cold start a copy as
 * one), and answers a read of the site's database. It reports the newest committed transaction
 * it replayed, when it replayed one, as `newest-commit=<time>` in its termination message.
 */
export function drillVerifyScript(o: DrillVerifyOptions): string {
  // host from the environment, the rest a literal (libpq-quoted, then shell-quoted).
  const conn = sh(`"host=$DRILL_HOST "${quote(conninfo({ port: o.port, dbname: o.database }))}`);
  const t = Math.max(1, Math.round(o.timeoutSeconds));
  const q = (sql: string) => render(psqlArgv({ conninfo: conn, tuplesOnly: true, command: sql }));
  const where = `$DRILL_HOST:${o.port}`;
  return [
    'set -eu',
    'export PGCONNECT_TIMEOUT=5 PGAPPNAME=standby_operator_drill',
    'if [ -z "${DRILL_HOST:-}" ]; then echo "DRILL_HOST is not set: the operator gives it the scratch pod\'s IP" >&2; exit 1; fi',
    `deadline=$(( $(date +%s) + ${t} ))`,
    'past_deadline() { [ "$(date +%s)" -ge "$deadline" ]; }',
    `until ${render(isReadyArgv(conn))}; do`,
    `  if past_deadline; then echo "the drill copy at ${where} did not accept connections within ${t}s" >&2; exit 1; fi`,
    '  sleep 1',
    'done',
    `until [ "$(${q(IN_RECOVERY_SQL)})" = f ]; do`,
    `  if past_deadline; then echo "the drill copy at ${where} is still in recovery after ${t}s" >&2; exit 1; fi`,
    '  sleep 1',
    'done',
    `${q('SELECT count(*) FROM pg_catalog.pg_class')} > /dev/null`,
    `newest=$(${q(NEWEST_REPLAYED_COMMIT_SQL)})`,
    `echo "the drill copy at ${where} left recovery and answers reads; newest replayed commit: \${newest:-none replayed}"`,
    `if [ -n "$newest" ]; then printf 'newest-commit=%s\\n' "$newest" > ${quote(o.terminationLog)} 2>/dev/null || true; fi`,
  ].join('\n');
}
