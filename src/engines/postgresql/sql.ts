// Every SQL statement the engine sends, as pure functions. Statements run by
// psql in scripts use psql variables (:'slot') for values known only in the
// pod; statements run by the controller through `pg` use $n parameters.

/** A SQL string literal. */
export function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** A SQL identifier (also the quoting synchronous_standby_names uses for names). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Creates the standby's physical replication slot unless it exists, reserving
 * WAL at once so that nothing the base backup needs is recycled before it
 * streams. A slot whose WAL was already removed (wal_status lost, e.g. after
 * max_slot_wal_keep_size) cannot serve a standby again and is recreated.
 * psql variable: slot.
 */
export function ensureSlotSql(): string {
  return [
    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = :'slot' AND wal_status = 'lost' AND NOT active;",
    "SELECT pg_create_physical_replication_slot(:'slot', true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = :'slot');",
  ].join('\n');
}

/**
 * The value of synchronous_standby_names that makes commits wait for the
 * standby that a promotion promotes (replica 0), so that promoting it loses
 * no acknowledged commit. Other replicas stay asynchronous.
 */
export function synchronousStandbyNames(slot: string): string {
  return `FIRST 1 (${quoteIdent(slot)})`;
}

/**
 * Runs ALTER SYSTEM and a reload only when the primary's setting differs, so
 * that a role without superuser can run it when nothing has to change
 * (ALTER SYSTEM cannot run in a transaction, hence psql's \gexec).
 */
function alterWhen(condition: string, statement: string): string {
  return [
    'SELECT stmt FROM (VALUES',
    `  (1, ${quoteLiteral(statement)}),`,
    "  (2, 'SELECT pg_reload_conf()')",
    `) AS s(n, stmt) WHERE ${condition} ORDER BY n`,
    '\\gexec',
  ].join('\n');
}

/** Makes the primary wait for the standby on commit (synchronous mode). */
export function ensureSynchronousSql(value: string): string {
  return alterWhen(
    `current_setting('synchronous_standby_names') IS DISTINCT FROM ${quoteLiteral(value)}`,
    `ALTER SYSTEM SET synchronous_standby_names = ${quoteLiteral(value)}`,
  );
}

/** Undoes ensureSynchronousSql when synchronous mode was switched off; leaves any other setting alone. */
export function releaseSynchronousSql(value: string): string {
  return alterWhen(`current_setting('synchronous_standby_names') = ${quoteLiteral(value)}`, 'ALTER SYSTEM RESET synchronous_standby_names');
}

/**
 * Promotes a standby and waits (up to waitSeconds) until it has left
 * recovery; true when promoted. Idempotent: a server already out of
 * recovery answers true without calling pg_promote (which would fail).
 */
export function promoteSql(waitSeconds: number): string {
  const wait = Math.max(1, Math.min(86_400, Math.round(waitSeconds)));
  return `SELECT CASE WHEN pg_is_in_recovery() THEN pg_promote(wait => true, wait_seconds => ${wait}) ELSE true END`;
}

export const IN_RECOVERY_SQL = 'SELECT pg_is_in_recovery()';

/**
 * The commit time of the newest transaction the server replayed while it recovered (RFC 3339, UTC),
 * or nothing when recovery replayed none (a copy of a quiet database: its newest commit is older
 * than the backup's checkpoint).
 */
export const NEWEST_REPLAYED_COMMIT_SQL =
  "SELECT to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";

/**
 * Whether the server the primary Service leads to is really a primary (a
 * standby has no replicas of its own to show), and its current WAL position.
 */
export const PRIMARY_STATE_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS current_lsn`;

/**
 * A standby's own view, for when the primary cannot be reached: which replica
 * it is (its slot), and how far the WAL it holds reaches beyond $1 (pg_lsn,
 * the primary's last position the engine saw; NULL when none).
 */
export const STANDBY_STATE_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
       current_setting('primary_slot_name') AS slot_name,
       GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text AS received_lsn,
       pg_wal_lsn_diff(GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), $1::pg_lsn)::float8 AS beyond_bytes`;

/**
 * The standbys' replication as the primary sees it, one row per walsender
 * whose application_name is one of $1 (text[]). LSN distances in bytes, lags
 * in seconds; the positions are NULL for roles without pg_read_all_stats.
 */
export const REPLICATION_SQL = `SELECT application_name,
       state,
       sync_state,
       pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::float8 AS flush_behind_bytes,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 AS replay_behind_bytes,
       EXTRACT(EPOCH FROM flush_lag)::float8 AS flush_lag_seconds,
       EXTRACT(EPOCH FROM replay_lag)::float8 AS replay_lag_seconds,
       EXTRACT(EPOCH FROM now() - reply_time)::float8 AS reply_age_seconds,
       current_setting('synchronous_standby_names') AS synchronous_standby_names
  FROM pg_stat_replication
 WHERE application_name = ANY($1::text[])`;

/** The site's physical slots on the primary: the expected ones ($1 text[]) and any other with the site's prefix ($2, a LIKE pattern). */
export const SLOTS_SQL = `SELECT slot_name,
       active,
       wal_status,
       pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 AS retained_bytes
  FROM pg_replication_slots
 WHERE slot_type = 'physical' AND (slot_name = ANY($1::text[]) OR slot_name LIKE $2)
 ORDER BY slot_name`;

/** A LIKE pattern matching names that start with prefix. */
export function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The bootstrap superuser's name (oid 10): the restore's initdb creates the cluster with it. */
export const BOOTSTRAP_SUPERUSER_SQL = 'SELECT rolname FROM pg_roles WHERE oid = 10';

/** The line pg_dumpall writes to create the bootstrap superuser, which a fresh cluster already has. */
export const BOOTSTRAP_CREATE_ROLE_SQL = "SELECT format('CREATE ROLE %I;', rolname) FROM pg_roles WHERE oid = 10";

/** The server's configuration files, read through the server (superuser or pg_read_server_files). */
export const CONFIG_FILE_SQL = {
  'pg_hba.conf': "SELECT pg_read_file(current_setting('hba_file'))",
  'postgresql.auto.conf': "SELECT pg_read_file('postgresql.auto.conf')",
  // Only when it lives in the data directory: otherwise the pod mounts it from elsewhere and a restore keeps that.
  'postgresql.conf':
    "SELECT CASE WHEN current_setting('config_file') LIKE current_setting('data_directory') || '/%' THEN pg_read_file(current_setting('config_file')) END",
} as const;

export const SERVER_VERSION_SQL = "SELECT current_setting('server_version_num')";
