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

// ---- Re-protection and failback ----

/** A string literal in postgresql.conf syntax, as ALTER SYSTEM writes it (quotes and backslashes doubled), built in SQL from a value. */
function confLiteralSql(expr: string): string {
  return `'''' || replace(replace(${expr}, '\\', '\\\\'), '''', '''''') || ''''`;
}

/** A libpq connection-string value built in SQL: always quoted, with quotes and backslashes escaped by a backslash. */
function conninfoValueSql(expr: string): string {
  return `'''' || replace(replace(${expr}, '\\', '\\\\'), '''', '\\''') || ''''`;
}

/**
 * The postgresql.auto.conf lines that make a data directory a streaming
 * standby of the server at :'host' :'port' through slot :'slot' (also its
 * application_name, as pg_basebackup -R writes it), logging in as :'user'
 * with :'password'. Built by the server the standby will follow, so that
 * quoting of any password is PostgreSQL's own. psql variables: host, port,
 * user, password, slot.
 */
export const STANDBY_SETTINGS_SQL = `SELECT 'primary_conninfo = ' || ${confLiteralSql(
  `'host=' || ${conninfoValueSql(":'host'")} || ' port=' || ${conninfoValueSql(":'port'")} || ' user=' || ${conninfoValueSql(":'user'")} || ' password=' || ${conninfoValueSql(":'password'")} || ' application_name=' || ${conninfoValueSql(":'slot'")}`,
)} || E'\\n' || 'primary_slot_name = ' || ${confLiteralSql(":'slot'")}`;

/** The timeline a primary writes on: the first 8 hex digits of its current WAL file's name. */
const PRIMARY_TIMELINE = "('x' || substr(pg_walfile_name(pg_current_wal_flush_lsn()), 1, 8))::bit(32)::int";

/** The history file of a timeline, read through the server (superuser or pg_read_server_files). */
function historyFileSql(timeline: string): string {
  return `pg_read_file('pg_wal/' || lpad(upper(to_hex(${timeline})), 8, '0') || '.history')`;
}

/**
 * Before pg_rewind against a server promoted a moment ago: pg_rewind reads
 * the source's timeline from its control file, which names the new timeline
 * only once the checkpoint after the promotion is complete (it is spread, so
 * it can take minutes); until then pg_rewind sees one timeline and rewinds
 * nothing. A CHECKPOINT (superuser or pg_checkpoint) settles it, only when
 * needed (psql's \gexec).
 */
export const SOURCE_CHECKPOINT_SQL = [
  `SELECT 'CHECKPOINT' WHERE NOT pg_is_in_recovery() AND (SELECT timeline_id FROM pg_control_checkpoint()) <> ${PRIMARY_TIMELINE}`,
  '\\gexec',
].join('\n');

/**
 * Run by a standby's bootstrap on a data directory that was promoted: did the
 * primary take over from it? 'took-over' when the primary is the same
 * cluster (:'sysid'), out of recovery, on a newer timeline than the data
 * directory's (:'tli') whose history descends from it, i.e. it was promoted
 * while following this data directory's timeline (a failback). Otherwise why
 * not: 'other-system', 'standby' (the primary is in recovery: e.g. it is this
 * data directory's own standby), 'not-newer' (the data directory is on the
 * newer timeline: it is the serving side), 'unrelated'.
 */
export const TOOK_OVER_SQL = `WITH s AS (
  SELECT pg_is_in_recovery() AS in_recovery,
         (SELECT system_identifier::text FROM pg_control_system()) AS sysid,
         CASE WHEN pg_is_in_recovery() THEN NULL ELSE ${PRIMARY_TIMELINE} END AS tli
)
SELECT CASE
         WHEN sysid <> :'sysid' THEN 'other-system'
         WHEN in_recovery THEN 'standby'
         WHEN tli <= :'tli'::int THEN 'not-newer'
         WHEN EXISTS (SELECT 1 FROM regexp_split_to_table(${historyFileSql('tli')}, E'\\n') AS h(line)
                       WHERE split_part(line, E'\\t', 1) = :'tli') THEN 'took-over'
         ELSE 'unrelated'
       END || ' ' || coalesce(tli::text, '-')
  FROM s`;

/**
 * The side that would be rewound (the old primary), read before re-protection:
 * whether it is in recovery, its timeline and last flushed (or, in recovery,
 * received or replayed) position, its cluster and whether pg_rewind can work
 * on it: data checksums or wal_log_hints, and its WAL back to its last
 * checkpoint before the fork (kept by wal_keep_size, or fetched by
 * restore_command; the oldest WAL file it has, as a byte position, tells
 * when that is gone for sure). pg_ls_waldir needs superuser or pg_monitor.
 */
export const OLD_PRIMARY_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
       (SELECT system_identifier::text FROM pg_control_system()) AS system_id,
       CASE WHEN pg_is_in_recovery() THEN (SELECT timeline_id FROM pg_control_checkpoint()) ELSE ${PRIMARY_TIMELINE} END AS timeline,
       CASE WHEN pg_is_in_recovery() THEN GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text
            ELSE pg_current_wal_flush_lsn()::text END AS lsn,
       current_setting('data_checksums') = 'on' AS checksums,
       current_setting('wal_log_hints') = 'on' AS wal_log_hints,
       pg_size_bytes(current_setting('wal_keep_size'))::float8 AS wal_keep_bytes,
       pg_size_bytes(current_setting('max_wal_size'))::float8 AS max_wal_bytes,
       current_setting('restore_command') <> '' AS restores_wal,
       (SELECT min(('x' || substr(name, 9, 8))::bit(32)::bigint::numeric * 4294967296
                   + ('x' || substr(name, 17, 8))::bit(32)::bigint::numeric * pg_size_bytes(current_setting('wal_segment_size')))::text
          FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$') AS oldest_wal_byte`;

/** The serving side, read for the divergence: its timeline and that timeline's history (none on timeline 1). */
export const SERVING_HISTORY_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
       (SELECT system_identifier::text FROM pg_control_system()) AS system_id,
       t.timeline,
       CASE WHEN t.timeline > 1 THEN ${historyFileSql('t.timeline')} END AS history
  FROM (SELECT CASE WHEN pg_is_in_recovery() THEN (SELECT timeline_id FROM pg_control_checkpoint()) ELSE ${PRIMARY_TIMELINE} END AS timeline) t`;

/**
 * The serving side before a failback, read after writes were stopped: its
 * flushed position (what the other side must have replayed) and how many
 * client sessions other than this one hold a transaction id (are writing
 * right now: writes have not stopped). backend_xid of other roles' sessions
 * needs pg_read_all_stats (pg_monitor).
 */
export const SERVING_FLUSH_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_flush_lsn()::text END AS flush_lsn,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE ${PRIMARY_TIMELINE} END AS timeline,
       (SELECT count(*) FROM pg_stat_activity
         WHERE backend_type = 'client backend' AND backend_xid IS NOT NULL AND pid <> pg_backend_pid())::int AS writers,
       current_setting('default_transaction_read_only') = 'on' AS read_only`;

/** The side that takes over in a failback: how far it has replayed, and on which timeline it receives. */
export const REPLAY_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
       pg_last_wal_replay_lsn()::text AS replay_lsn,
       pg_last_wal_receive_lsn()::text AS receive_lsn,
       (SELECT received_tli FROM pg_stat_wal_receiver) AS received_timeline,
       current_setting('primary_slot_name') AS slot_name`;

/**
 * Stops writes on the serving side before a failback, in the server itself,
 * whatever the network lets through: new transactions default to read-only
 * (ALTER SYSTEM, then a reload) and every other client session is ended, so
 * that none is left inside a write transaction. Statements run one by one
 * (ALTER SYSTEM cannot run in a transaction block).
 */
export const STOP_WRITES_SQL = [
  'ALTER SYSTEM SET default_transaction_read_only = on',
  'SELECT pg_reload_conf()',
  // The reload reaches other backends asynchronously; ending them is what makes it certain.
  "SELECT count(pg_terminate_backend(pid))::int AS terminated FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
] as const;

/** Undoes STOP_WRITES_SQL (a failback that did not happen): the serving side takes writes again. */
export const RESUME_WRITES_SQL = ['ALTER SYSTEM RESET default_transaction_read_only', 'SELECT pg_reload_conf()'] as const;

/** After a failback promotion: the standby settings the re-protection wrote (the serving side's address, the password) are removed. */
export const RESET_STANDBY_SETTINGS_SQL = ['ALTER SYSTEM RESET primary_conninfo;', 'ALTER SYSTEM RESET primary_slot_name;', 'SELECT pg_reload_conf();'].join('\n');
