// The promote Job script: the hot tier's promotion and the failback's.
import { isReadyArgv, psqlArgv, serverConninfo, type ServerAddress } from './commands.ts';
import { piped, render } from './shell.ts';
import { IN_RECOVERY_SQL, promoteSql, RESET_STANDBY_SETTINGS_SQL } from './sql.ts';

export interface PromoteOptions {
  standby: ServerAddress;
  /** How long the server may take to accept connections and to leave recovery. */
  timeoutSeconds: number;
  /**
   * A failback: once promoted, remove the standby settings re-protection wrote
   * (primary_conninfo with the serving side's address and the replication
   * password, primary_slot_name) from the server's postgresql.auto.conf.
   */
  resetStandbySettings?: boolean;
}

/**
 * The hot tier's promote Job: wait until the standby accepts connections,
 * pg_promote() it (waiting inside the server), then confirm that it left
 * recovery. Safe to run again on a promoted server.
 */
export function promoteScript(o: PromoteOptions): string {
  const conn = serverConninfo(o.standby);
  const t = Math.max(1, Math.round(o.timeoutSeconds));
  const where = `${o.standby.host}:${o.standby.port}`;
  return [
    'set -eu',
    'export PGCONNECT_TIMEOUT=5',
    `deadline=$(( $(date +%s) + ${t} ))`,
    'past_deadline() { [ "$(date +%s)" -ge "$deadline" ]; }',
    `until ${render(isReadyArgv(conn))}; do`,
    `  if past_deadline; then echo "the standby at ${where} did not accept connections within ${t}s" >&2; exit 1; fi`,
    '  sleep 1',
    'done',
    `promoted=$(${render(psqlArgv({ conninfo: conn, tuplesOnly: true, command: promoteSql(t) }))})`,
    `if [ "$promoted" != t ]; then echo "pg_promote() on ${where} did not finish within ${t}s" >&2; exit 1; fi`,
    `until [ "$(${render(psqlArgv({ conninfo: conn, tuplesOnly: true, command: IN_RECOVERY_SQL }))})" = f ]; do`,
    `  if past_deadline; then echo "${where} is still in recovery after ${t}s" >&2; exit 1; fi`,
    '  sleep 1',
    'done',
    ...(o.resetStandbySettings ? [piped(RESET_STANDBY_SETTINGS_SQL, psqlArgv({ conninfo: conn, tuplesOnly: true }))] : []),
    `echo "promoted: ${where} has left recovery and accepts writes"`,
  ].join('\n');
}
