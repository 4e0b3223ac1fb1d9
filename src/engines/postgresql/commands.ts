// The PostgreSQL client programs the engine runs, as argv arrays. Pure: the
// scripts in script-*.ts are built from these, and the tests run those scripts
// against real servers. Passwords never appear in argv (libpq reads
// PGPASSWORD from the environment).
import { sh, type Word } from './shell.ts';

/** libpq connection parameters; undefined values are left out. */
export type ConnParams = Readonly<Record<string, string | number | undefined>>;

function conninfoValue(v: string): string {
  if (v !== '' && !/[\s'\\]/.test(v)) return v;
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A libpq keyword/value connection string, e.g. "host=db.shop.svc port=5432 dbname=postgres". */
export function conninfo(params: ConnParams): string {
  return Object.entries(params)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${conninfoValue(String(v))}`)
    .join(' ');
}

/** Where a server is reached: host (name, address or socket directory), port and database. */
export interface ServerAddress {
  host: string;
  port: number;
  database: string;
  /**
   * A server in another site (endpoint.ts): TLS with sslmode=verify-full against this CA file, so
   * the certificate must chain to it and name `host`. pg_basebackup -R copies both into
   * primary_conninfo, so the streaming standby verifies the same way.
   */
  tls?: { rootCert: string };
}

/** The connection string for a server; user, password and application name come from PGUSER, PGPASSWORD, PGAPPNAME. */
export function serverConninfo(a: ServerAddress, database = a.database): string {
  return conninfo({
    host: a.host,
    port: a.port,
    dbname: database,
    ...(a.tls ? { sslmode: 'verify-full', sslrootcert: a.tls.rootCert } : {}),
  });
}

export interface PsqlOptions {
  conninfo: Word;
  /** psql variables (-v name=value), referenced in SQL as :'name'. */
  vars?: Readonly<Record<string, Word>>;
  /** One SQL statement (-c); without it the SQL is read from `file` (default: stdin). */
  command?: string;
  file?: Word;
  /** Unaligned, tuples only: for reading a value in a script. */
  tuplesOnly?: boolean;
  /** Write query output to this file (-o). */
  output?: Word;
}

/** psql that stops at the first error and never prompts or reads ~/.psqlrc. */
export function psqlArgv(o: PsqlOptions): Word[] {
  const vars = Object.entries(o.vars ?? {}).flatMap(([k, v]): Word[] => [
    '--set',
    typeof v === 'string' ? `${k}=${v}` : sh(`${k}=${v.sh}`),
  ]);
  return [
    'psql',
    '--no-psqlrc',
    '--no-password',
    '--set',
    'ON_ERROR_STOP=1',
    ...(o.tuplesOnly ? ['--quiet', '--no-align', '--tuples-only'] : []),
    ...vars,
    '--dbname',
    o.conninfo,
    ...(o.output !== undefined ? ['--output', o.output] : []),
    ...(o.command !== undefined ? ['--command', o.command] : ['--file', o.file ?? '-']),
  ];
}

export interface BaseBackupOptions {
  conninfo: Word;
  dataDirectory: Word;
  /** Stream WAL through this (existing) physical replication slot. */
  slot?: Word;
  /** -R: write standby.signal and primary_conninfo/primary_slot_name so that the copy starts as a streaming standby. */
  standby: boolean;
}

/** pg_basebackup: a plain-format copy with the WAL it needs streamed alongside, after a fast checkpoint. */
export function baseBackupArgv(o: BaseBackupOptions): Word[] {
  return [
    'pg_basebackup',
    '--pgdata',
    o.dataDirectory,
    '--dbname',
    o.conninfo,
    '--format=plain',
    '--wal-method=stream',
    '--checkpoint=fast',
    '--no-password',
    '--verbose',
    ...(o.standby ? ['--write-recovery-conf'] : []),
    ...(o.slot !== undefined ? ['--slot', o.slot] : []),
  ];
}

/** pg_verifybackup: checks every file against the backup manifest and that the WAL to reach consistency is present. */
export function verifyBackupArgv(dataDirectory: Word): Word[] {
  return ['pg_verifybackup', '--quiet', dataDirectory];
}

/** pg_dump of one database in the custom format (compressed, restorable selectively and in parallel). */
export function dumpArgv(conn: Word, file: Word): Word[] {
  return ['pg_dump', '--dbname', conn, '--format=custom', '--no-tablespaces', '--file', file];
}

/** pg_dumpall of the cluster-wide objects: roles (with their passwords) and memberships. */
export function dumpGlobalsArgv(conn: Word, file: Word): Word[] {
  return ['pg_dumpall', '--dbname', conn, '--globals-only', '--no-tablespaces', '--file', file];
}

/** pg_restore --list: reads the whole table of contents, proving the archive is complete and readable. */
export function listDumpArgv(file: Word): Word[] {
  return ['pg_restore', '--list', file];
}

/**
 * pg_restore of one database from a custom-format dump: drops the database if
 * it exists (the fresh cluster's "postgres"), creates it as dumped (encoding,
 * locale, properties) and restores into it, stopping at the first error.
 */
export function restoreArgv(o: { host: Word; maintenanceDatabase: string; file: Word; jobs: number }): Word[] {
  return [
    'pg_restore',
    '--host',
    o.host,
    '--dbname',
    o.maintenanceDatabase,
    '--clean',
    '--if-exists',
    '--create',
    '--exit-on-error',
    '--no-tablespaces',
    `--jobs=${o.jobs}`,
    o.file,
  ];
}

/** initdb of an empty cluster whose bootstrap superuser is named as the dumped cluster's. */
export function initdbArgv(dataDirectory: Word, superuser: Word): Word[] {
  return ['initdb', '--pgdata', dataDirectory, '--username', superuser, '--auth-local=trust', '--auth-host=scram-sha-256'];
}

/** pg_ctl start of a server that listens only on a Unix socket in a private directory. */
export function startPrivateServerArgv(dataDirectory: Word, socketDirectoryVar: string): Word[] {
  return [
    'pg_ctl',
    '--pgdata',
    dataDirectory,
    '--wait',
    '--timeout=600',
    '--options',
    sh(`"-c listen_addresses='' -k \${${socketDirectoryVar}}"`),
    'start',
  ];
}

export function stopServerArgv(dataDirectory: Word): Word[] {
  return ['pg_ctl', '--pgdata', dataDirectory, '--mode=fast', '--wait', 'stop'];
}

/** pg_isready: whether the server accepts connections (no credentials needed). */
export function isReadyArgv(conn: Word): Word[] {
  return ['pg_isready', '--dbname', conn, '--quiet'];
}

export interface RewindOptions {
  dataDirectory: Word;
  /** The server to rewind to (a superuser, or a role granted pg_rewind's functions, from PGUSER/PGPASSWORD). */
  source: Word;
  /** Only report what would be done (the divergence point), change nothing. */
  dryRun: boolean;
  /** Expands to --restore-target-wal or nothing (when the data directory's restore_command can fetch WAL it lost). */
  restoreTargetWal?: Word;
}

/**
 * pg_rewind of a stopped data directory to a running server: only the blocks
 * changed since the two diverged, plus the server's newer WAL and small
 * files, are copied. --progress ends with "N/N kB (100%) copied", the bytes
 * moved.
 */
export function rewindArgv(o: RewindOptions): Word[] {
  return [
    'pg_rewind',
    '--target-pgdata',
    o.dataDirectory,
    '--source-server',
    o.source,
    ...(o.restoreTargetWal !== undefined ? [o.restoreTargetWal] : []),
    ...(o.dryRun ? ['--dry-run'] : ['--progress']),
  ];
}

/**
 * What pg_rewind runs itself on a data directory that was not shut down
 * cleanly (postgres in single-user mode completes crash recovery and
 * stops): run first so that the dry run can tell the divergence point.
 */
export function crashRecoveryArgv(dataDirectory: Word): Word[] {
  return ['postgres', '--single', '-F', '-D', dataDirectory, 'template1'];
}

/** pg_waldump statistics per record type of a timeline's WAL from a position to its end (Transaction/COMMIT counts the commits). */
export function walStatsArgv(o: { walDirectory: Word; timeline: Word; start: Word }): Word[] {
  return ['pg_waldump', '--path', o.walDirectory, '--timeline', o.timeline, '--start', o.start, '--stats=record'];
}
