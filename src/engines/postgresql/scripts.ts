// The shell scripts the engine's containers run, built from the argv arrays
// in commands.ts and the SQL in sql.ts. Pure: the pod templates embed them,
// and test/postgres runs the very same text against real servers (with the
// addresses pointed at loopback). POSIX sh, so they run under dash and
// busybox alike.
import {
  baseBackupArgv,
  dumpArgv,
  dumpGlobalsArgv,
  initdbArgv,
  isReadyArgv,
  listDumpArgv,
  psqlArgv,
  restoreArgv,
  serverConninfo,
  startPrivateServerArgv,
  stopServerArgv,
  verifyBackupArgv,
  type ServerAddress,
} from './commands.ts';
import { piped, quote, render, sh, shellVar } from './shell.ts';
import {
  BOOTSTRAP_CREATE_ROLE_SQL,
  BOOTSTRAP_SUPERUSER_SQL,
  CONFIG_FILE_SQL,
  ensureSlotSql,
  ensureSynchronousSql,
  IN_RECOVERY_SQL,
  promoteSql,
  releaseSynchronousSql,
  SERVER_VERSION_SQL,
} from './sql.ts';

/** Environment variables the scripts read; the pod templates fill them from Secrets and the downward API. */
export const ENV = {
  /** Login of the role the script connects as (libpq reads PGUSER/PGPASSWORD itself). */
  user: 'PGUSER',
  password: 'PGPASSWORD',
  /** The superuser credentials, for the standby bootstrap's synchronous_standby_names on the primary. */
  superuser: 'PG_SUPERUSER',
  superuserPassword: 'PG_SUPERUSER_PASSWORD',
  /** The pod's name: a StatefulSet replica's ordinal is its suffix. */
  podName: 'POD_NAME',
} as const;

const HEADER = ['set -eu', '# Fail fast on an unreachable server; the Job or kubelet retries with backoff.', 'export PGCONNECT_TIMEOUT=10'];

/** Lines appended to postgresql.auto.conf of every copy, so that no copy ever waits for the old primary's standbys. */
function appendConfig(lines: readonly string[]): string {
  return ['cat >> "$data/postgresql.auto.conf" <<\'EOF\'', '# Added by standby-operator:', ...lines, 'EOF'].join('\n');
}

const NO_SYNCHRONOUS_STANDBYS = [
  "# a promoted copy must not wait for standbys of the old primary (RPO settings are the primary's)",
  "synchronous_standby_names = ''",
];

/**
 * Empties the data directory (a partial earlier attempt) and gives it the mode postgres requires.
 * `-exec rm -rf {} +`, not `-delete`: Debian's busybox find has no -delete (found on real pods).
 */
const EMPTY_DATA = ['mkdir -p "$data"', 'chmod 700 "$data"', 'find "$data" -mindepth 1 -maxdepth 1 -exec rm -rf {} +'];

export interface StandbyBootstrapOptions {
  primary: ServerAddress;
  dataDirectory: string;
  /** Replica N streams through slot <slotPrefix>_N and is named so in pg_stat_replication. */
  slotPrefix: string;
  /** StatefulSet: the replica's ordinal is the suffix of $POD_NAME; otherwise the pod is replica 0. */
  ordinalFromPodName: boolean;
  /** synchronous_standby_names the primary should have (synchronous mode), and whether the mode is on. */
  synchronous: { enabled: boolean; value: string };
}

/** The slot (and application_name) of replica `ordinal`. */
export function slotName(prefix: string, ordinal: number): string {
  return `${prefix}_${ordinal}`;
}

/**
 * The hot standby's init container. On an empty (or half-written) data
 * directory: create the replica's physical slot on the primary, take a base
 * backup through it with -R (standby.signal, primary_conninfo with the
 * replica's application_name, primary_slot_name) and turn hot_standby on, so
 * that the pod's own postgres starts as a streaming standby. A data
 * directory that is already a standby, or that was promoted, is left as it
 * is: the container never needs the primary to restart a standby.
 */
export function standbyBootstrapScript(o: StandbyBootstrapOptions): string {
  const primary = serverConninfo(o.primary);
  const syncSql = o.synchronous.enabled ? ensureSynchronousSql(o.synchronous.value) : releaseSynchronousSql(o.synchronous.value);
  const asSuperuser = { [ENV.user]: shellVar(ENV.superuser), [ENV.password]: shellVar(ENV.superuserPassword) };
  return [
    ...HEADER,
    `data=${quote(o.dataDirectory)}`,
    o.ordinalFromPodName ? `ordinal="\${${ENV.podName}##*-}"` : 'ordinal=0',
    'case "$ordinal" in',
    `  ''|*[!0-9]*) echo "cannot tell this replica's ordinal from ${ENV.podName}=\${${ENV.podName}:-}" >&2; exit 1 ;;`,
    'esac',
    `slot=${quote(`${o.slotPrefix}_`)}"$ordinal"`,
    '# The replica appears under its slot name in pg_stat_replication (pg_basebackup -R keeps it in primary_conninfo).',
    'export PGAPPNAME="$slot"',
    '',
    '# Synchronous mode: the primary waits on commit for replica 0; switched off: the setting is removed again.',
    '# Best effort: a standby must start even when the primary is gone.',
    'configure_primary() {',
    `  ${piped(syncSql, psqlArgv({ conninfo: primary, tuplesOnly: true }), asSuperuser)}`,
    '}',
    '',
    'if [ -f "$data/PG_VERSION" ] && { [ -f "$data/standby.signal" ] || [ -f "$data/postmaster.opts" ]; }; then',
    '  if [ -f "$data/standby.signal" ]; then',
    '    echo "$data is a standby already; it resumes streaming through slot $slot"',
    `    configure_primary || echo "warning: could not check synchronous_standby_names on the primary ${o.primary.host}:${o.primary.port}" >&2`,
    '  else',
    '    echo "$data was promoted and is no longer a standby; leaving it as it is"',
    '  fi',
    '  exit 0',
    'fi',
    '',
    `echo "bootstrapping $data from the primary at ${o.primary.host}:${o.primary.port} through slot $slot"`,
    ...EMPTY_DATA,
    piped(ensureSlotSql(), psqlArgv({ conninfo: primary, tuplesOnly: true, vars: { slot: shellVar('slot') } })),
    render(baseBackupArgv({ conninfo: primary, dataDirectory: shellVar('data'), slot: shellVar('slot'), standby: true })),
    appendConfig(['hot_standby = on', ...NO_SYNCHRONOUS_STANDBYS]),
    `configure_primary || echo "warning: could not set synchronous_standby_names on the primary ${o.primary.host}:${o.primary.port}" >&2`,
    'echo "standby data directory ready: postgres starts streaming through slot $slot"',
  ].join('\n');
}

export interface WarmCopyOptions {
  primary: ServerAddress;
  dataDirectory: string;
  applicationName: string;
}

/**
 * The warm tier's copy Job: a full base backup of the primary into the fresh
 * standby volume, verified against its manifest. Without standby.signal the
 * copy starts as a primary (recovering to the backup's end) when the standby
 * is scaled up. Incremental backups (PostgreSQL 17+, summarize_wal) would also
 * need the previous copy mounted; see the engine's documentation.
 */
export function warmCopyScript(o: WarmCopyOptions): string {
  const primary = serverConninfo(o.primary);
  return [
    ...HEADER,
    `data=${quote(o.dataDirectory)}`,
    `export PGAPPNAME=${quote(o.applicationName)}`,
    ...EMPTY_DATA,
    `version=$(${render(psqlArgv({ conninfo: primary, tuplesOnly: true, command: SERVER_VERSION_SQL }))})`,
    `echo "copying the primary at ${o.primary.host}:${o.primary.port} (server_version_num $version) into $data"`,
    render(baseBackupArgv({ conninfo: primary, dataDirectory: shellVar('data'), standby: false })),
    render(verifyBackupArgv(shellVar('data'))),
    appendConfig(NO_SYNCHRONOUS_STANDBYS),
    'echo "base backup complete and verified"',
  ].join('\n');
}

export interface PromoteOptions {
  standby: ServerAddress;
  /** How long the server may take to accept connections and to leave recovery. */
  timeoutSeconds: number;
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
    `echo "promoted: ${where} has left recovery and accepts writes"`,
  ].join('\n');
}

/** The files of one dump, in a directory named by its UTC start time. */
export const DUMP_FILES = {
  globals: 'globals.sql',
  database: 'database.dump',
  superuser: 'bootstrap_superuser',
  hba: 'pg_hba.conf',
  conf: 'postgresql.conf',
  autoConf: 'postgresql.auto.conf',
  sums: 'SHA256SUMS',
} as const;

/** A complete dump's directory name; the newest sorts last. Partial dumps are hidden (.partial-*). */
export const DUMP_NAME_PATTERN = '^[0-9]{8}T[0-9]{6}Z$';

export interface DumpOptions {
  primary: ServerAddress;
  directory: string;
  retention: { keepLast?: number | undefined; maxAgeSeconds?: number | undefined };
}

/** The awk condition selecting, newest first, the dumps retention deletes; the newest is always kept. */
export function pruneCondition(r: DumpOptions['retention']): string | undefined {
  const parts: string[] = [];
  if (r.keepLast !== undefined) parts.push(`NR > ${Math.max(1, Math.floor(r.keepLast))}`);
  if (r.maxAgeSeconds !== undefined) parts.push('$0 < cutoff');
  return parts.length ? `NR > 1 && (${parts.join(' || ')})` : undefined;
}

/**
 * The cold tier's dump: roles (pg_dumpall --globals-only), the database
 * (pg_dump, custom format, proven readable with pg_restore --list), the
 * server's pg_hba.conf and configuration, and checksums, written to a hidden
 * directory and renamed into place only when complete. Then retention.
 */
export function dumpScript(o: DumpOptions): string {
  const conn = serverConninfo(o.primary);
  const f = DUMP_FILES;
  const out = (name: string) => sh(`"$work/${name}"`);
  const read = (sql: string, file: string) => render(psqlArgv({ conninfo: conn, tuplesOnly: true, command: sql, output: out(file) }));
  const prune = pruneCondition(o.retention);
  const sums = [f.globals, f.database, f.superuser, f.hba, f.conf, f.autoConf];
  return [
    ...HEADER,
    'export PGAPPNAME=standby_operator_dump',
    'umask 077',
    `dir=${quote(o.directory)}`,
    'stamp=$(date -u +%Y%m%dT%H%M%SZ)',
    'if [ -e "$dir/$stamp" ]; then echo "a dump named $stamp exists already; not overwriting it" >&2; exit 1; fi',
    'work="$dir/.partial-$stamp"',
    '# What a failed run left behind is never a dump.',
    'rm -rf "$dir"/.partial-*',
    'mkdir -p "$work"',
    `echo "dumping database ${o.primary.database} of the primary at ${o.primary.host}:${o.primary.port}"`,
    read(BOOTSTRAP_SUPERUSER_SQL, f.superuser),
    read(BOOTSTRAP_CREATE_ROLE_SQL, 'create_bootstrap_role'),
    render(dumpGlobalsArgv(conn, out('globals.all.sql'))),
    '# A fresh cluster has its bootstrap superuser already: creating it again would fail the restore.',
    `grep -vxF -f "$work/create_bootstrap_role" "$work/globals.all.sql" > "$work/${f.globals}"`,
    'rm "$work/globals.all.sql" "$work/create_bootstrap_role"',
    read(CONFIG_FILE_SQL['pg_hba.conf'], f.hba),
    read(CONFIG_FILE_SQL['postgresql.conf'], f.conf),
    read(CONFIG_FILE_SQL['postgresql.auto.conf'], f.autoConf),
    render(dumpArgv(conn, out(f.database))),
    `${render(listDumpArgv(out(f.database)))} > /dev/null`,
    `(cd "$work" && sha256sum ${sums.join(' ')} > ${f.sums})`,
    'mv "$work" "$dir/$stamp"',
    'echo "dump $stamp complete: $(du -sk "$dir/$stamp" | cut -f1) KiB"',
    ...(prune
      ? [
          o.retention.maxAgeSeconds !== undefined
            ? `cutoff=$(date -u -d "@$(( $(date +%s) - ${Math.floor(o.retention.maxAgeSeconds)} ))" +%Y%m%dT%H%M%SZ)`
            : 'cutoff=',
          `ls -1 "$dir" | grep -E ${quote(DUMP_NAME_PATTERN)} | sort -r | awk -v cutoff="$cutoff" ${quote(prune)} | while read -r old; do`,
          '  rm -rf "${dir:?}/$old"',
          '  echo "retention: deleted dump $old"',
          'done',
        ]
      : []),
  ].join('\n');
}

export interface RestoreOptions {
  directory: string;
  dataDirectory: string;
  /** The dumped database (pg_restore --create recreates it; the drop/create runs from another database). */
  database: string;
}

/**
 * The cold tier's restore Job: checks the newest complete dump's checksums,
 * initdb's an empty cluster with the same bootstrap superuser, starts it on a
 * private socket only, restores roles and the database, stops it and puts
 * the primary's pg_hba.conf and configuration in place, so that the
 * primary's pod template starts on it as the new primary.
 */
export function restoreScript(o: RestoreOptions): string {
  const f = DUMP_FILES;
  const local = (db: string) => sh(`"host=$sock dbname=${db}"`);
  return [
    'set -eu',
    `dir=${quote(o.directory)}`,
    `data=${quote(o.dataDirectory)}`,
    `newest=$(ls -1 "$dir" | grep -E ${quote(DUMP_NAME_PATTERN)} | sort | tail -n 1)`,
    'if [ -z "$newest" ]; then echo "no complete dump in $dir: the dump CronJob has not succeeded yet" >&2; exit 1; fi',
    'src="$dir/$newest"',
    'echo "restoring dump $newest into $data"',
    `(cd "$src" && sha256sum -c ${f.sums})`,
    `superuser=$(cat "$src/${f.superuser}")`,
    ...EMPTY_DATA,
    render(initdbArgv(shellVar('data'), shellVar('superuser'))),
    'sock=$(mktemp -d)',
    `trap '${render(stopServerArgv(shellVar('data'))).replace(/'/g, `'\\''`)} > /dev/null 2>&1 || true; rm -rf "$sock"' EXIT`,
    render(startPrivateServerArgv(shellVar('data'), 'sock')),
    'export PGUSER="$superuser" PGAPPNAME=standby_operator_restore',
    render(psqlArgv({ conninfo: local('postgres'), file: sh(`"$src/${f.globals}"`) })),
    render(
      restoreArgv({
        host: shellVar('sock'),
        maintenanceDatabase: o.database === 'template1' ? 'postgres' : 'template1',
        file: sh(`"$src/${f.database}"`),
        jobs: 2,
      }),
    ),
    render(stopServerArgv(shellVar('data'))),
    `cp "$src/${f.hba}" "$data/pg_hba.conf"`,
    `if grep -q '[^[:space:]]' "$src/${f.conf}"; then cp "$src/${f.conf}" "$data/postgresql.conf"; fi`,
    `cp "$src/${f.autoConf}" "$data/postgresql.auto.conf"`,
    appendConfig(NO_SYNCHRONOUS_STANDBYS),
    'echo "restore of $newest complete"',
  ].join('\n');
}
