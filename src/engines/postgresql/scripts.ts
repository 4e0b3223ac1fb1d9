// The shell scripts the engine's containers run, built from the argv arrays
// in commands.ts and the SQL in sql.ts. Pure: the pod templates embed them,
// and test/postgres runs the very same text against real servers (with the
// addresses pointed at loopback). POSIX sh, so they run under dash and
// busybox alike.
import {
  baseBackupArgv,
  crashRecoveryArgv,
  dumpArgv,
  dumpGlobalsArgv,
  initdbArgv,
  isReadyArgv,
  listDumpArgv,
  psqlArgv,
  restoreArgv,
  rewindArgv,
  serverConninfo,
  startPrivateServerArgv,
  stopServerArgv,
  verifyBackupArgv,
  walStatsArgv,
  type ServerAddress,
} from './commands.ts';
import { piped, quote, render, sh, shellVar, withEnv } from './shell.ts';
import {
  BOOTSTRAP_CREATE_ROLE_SQL,
  BOOTSTRAP_SUPERUSER_SQL,
  CONFIG_FILE_SQL,
  ensureSlotSql,
  ensureSynchronousSql,
  IN_RECOVERY_SQL,
  promoteSql,
  releaseSynchronousSql,
  RESET_STANDBY_SETTINGS_SQL,
  SERVER_VERSION_SQL,
  SOURCE_CHECKPOINT_SQL,
  STANDBY_SETTINGS_SQL,
  TOOK_OVER_SQL,
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

/** Where Kubernetes takes a container's termination message from: the scripts write their report there. */
export const TERMINATION_LOG = '/dev/termination-log';
/** The line a re-protecting script prints its report on (also written to its report file). */
export const REPORT_PREFIX = 'standby-operator report: ';

export interface RewindLibOptions {
  /** The server this data directory is to follow (and is rewound to or copied from). */
  source: ServerAddress;
  /** Keep the data directory's own configuration files (pg_rewind and a base backup bring the source's). */
  keepConfig: boolean;
  /** Lines appended to postgresql.auto.conf after the standby settings. */
  extraSettings: readonly string[];
  reportFile: string;
}

/**
 * Shell functions shared by the re-protect Job and the standby's bootstrap:
 * reading pg_controldata, rewinding with pg_rewind (after its preconditions
 * and a dry run that tells the divergence), keeping configuration files,
 * writing the standby settings, and the report. Expects $data and $slot.
 *
 * Why a data directory is never rewound twice: pg_rewind cannot see a
 * divergence on one timeline, so a second run on a directory that was
 * already rewound (and crash-recovered by that run) would leave it forked
 * unnoticed. A completed rewind is recognised by pg_rewind's own backup_label
 * and the control file it writes last ("in archive recovery"); an
 * interrupted one has not updated the control file yet, and running it again
 * either repeats the same block copies or fails (the target's WAL it reads
 * was replaced), which falls back to a base backup.
 */
function rewindLib(o: RewindLibOptions): string[] {
  const source = serverConninfo(o.source);
  const asSuperuser = { [ENV.user]: shellVar(ENV.superuser), [ENV.password]: shellVar(ENV.superuserPassword), LC_ALL: 'C' };
  const rewind = (dryRun: boolean, log: string) =>
    `${withEnv(asSuperuser, rewindArgv({ dataDirectory: shellVar('data'), source, dryRun, restoreTargetWal: sh('${restore_wal:+--restore-target-wal}') }))} > "$work/${log}" 2>&1`;
  // psql interpolates variables only in what it reads, not in --command: the SQL goes in on stdin.
  const settings = piped(
    STANDBY_SETTINGS_SQL,
    psqlArgv({
      conninfo: source,
      tuplesOnly: true,
      vars: { host: o.source.host, port: String(o.source.port), user: shellVar(ENV.user), password: shellVar(ENV.password), slot: shellVar('slot') },
    }),
  );
  const lsn = '[0-9A-F]*\\/[0-9A-F]*';
  return [
    `report_file=${quote(o.reportFile)}`,
    `keep_config=${o.keepConfig ? 'yes' : ''}`,
    'work=$(mktemp -d)',
    `trap 'rm -rf "$work"' EXIT`,
    'started=$(date +%s)',
    'method=none reason= bytes= fork= fork_tli= end_lsn= divergent_bytes= commits= checksums= hints=',
    '# A field of pg_controldata (C locale: the English labels).',
    `ctl() { LC_ALL=C pg_controldata "$data" 2>/dev/null | sed -n "s/^$1:[[:space:]]*//p"; }`,
    "lsn_bytes() { echo $(( (0x${1%/*} << 32) + 0x${1#*/} )); }",
    '# JSON values: text without control characters, quotes or backslashes; null when empty.',
    `text() { printf '%s' "$1" | tr -d '\\000-\\037"\\\\'; }`,
    'jnum() { if [ -n "$1" ]; then printf \'%s\' "$1"; else printf null; fi; }',
    'jstr() { if [ -n "$1" ]; then printf \'"%s"\' "$(text "$1")"; else printf null; fi; }',
    'report() {',
    `  r=$(printf '{"method":"%s","reason":%s,"bytes":%s,"forkLsn":%s,"forkTimeline":%s,"endLsn":%s,"divergentBytes":%s,"divergentCommits":%s,"checksums":%s,"walLogHints":%s,"seconds":%s}' \\`,
    '    "$method" "$(jstr "$reason")" "$(jnum "$bytes")" "$(jstr "$fork")" "$(jnum "$fork_tli")" "$(jstr "$end_lsn")" \\',
    '    "$(jnum "$divergent_bytes")" "$(jnum "$commits")" "$(jnum "$checksums")" "$(jnum "$hints")" "$(( $(date +%s) - started ))")',
    `  echo "${REPORT_PREFIX}$r"`,
    '  { printf \'%s\' "$r" > "$report_file"; } 2> /dev/null || true',
    '}',
    '# pg_rewind wrote backup_label and then, last, the control file: the rewind is complete.',
    'rewound_earlier() {',
    `  [ -f "$data/backup_label" ] && grep -q '^BACKUP METHOD: pg_rewind' "$data/backup_label" && [ "$(ctl 'Database cluster state')" = 'in archive recovery' ]`,
    '}',
    'save_config() {',
    '  [ -n "$keep_config" ] && [ ! -d "$work/config" ] || return 0',
    '  mkdir -p "$work/config"',
    '  for f in postgresql.conf postgresql.auto.conf pg_hba.conf pg_ident.conf; do',
    '    if [ -f "$data/$f" ]; then cp -p "$data/$f" "$work/config/"; fi',
    '  done',
    '}',
    'restore_config() {',
    '  [ -d "$work/config" ] || return 0',
    '  for f in "$work/config"/*; do if [ -f "$f" ]; then cp -p "$f" "$data/"; fi; done',
    '  echo "kept the configuration files of $data: $(ls "$work/config" | tr \'\\n\' \' \')"',
    '}',
    '# Rewinds $data to the source; on failure returns 1 with $reason set, and a base backup must follow.',
    'try_rewind() {',
    `  if [ "$(ctl 'Data page checksum version')" != 0 ]; then checksums=true; else checksums=false; fi`,
    `  if [ "$(ctl 'wal_log_hints setting')" = on ]; then hints=true; else hints=false; fi`,
    '  if [ "$checksums" = false ] && [ "$hints" = false ]; then',
    "    reason='pg_rewind needs data checksums or wal_log_hints = on, and this data directory has neither'",
    '    return 1',
    '  fi',
    '  # postgres refuses a group-writable data directory (a pod\'s fsGroup makes it so; the image\'s entrypoint undoes it at start).',
    '  chmod g-w,o-rwx "$data"',
    `  state=$(ctl 'Database cluster state')`,
    '  case "$state" in',
    "    'shut down' | 'shut down in recovery') ;;",
    '    *)',
    '      echo "$data was not shut down cleanly ($state): completing its crash recovery first"',
    `      if ! LC_ALL=C ${render(crashRecoveryArgv(shellVar('data')))} < /dev/null > "$work/recovery.log" 2>&1; then`,
    '        cat "$work/recovery.log" >&2',
    `        reason="crash recovery of the data directory failed: $(grep -E 'FATAL|PANIC' "$work/recovery.log" | tail -n 1)"`,
    '        return 1',
    '      fi',
    '      ;;',
    '  esac',
    `  end_lsn=$(ctl 'Latest checkpoint location')`,
    '  # A source promoted a moment ago names its new timeline in its control file only after a checkpoint.',
    `  if ! ${piped(SOURCE_CHECKPOINT_SQL, psqlArgv({ conninfo: source, tuplesOnly: true }), { [ENV.user]: shellVar(ENV.superuser), [ENV.password]: shellVar(ENV.superuserPassword) })} > "$work/checkpoint.log" 2>&1; then`,
    '    cat "$work/checkpoint.log" >&2',
    `    reason="the source's checkpoint after its promotion, which pg_rewind needs to see its timeline, failed: $(tr -s '\\n' ' ' < "$work/checkpoint.log")"`,
    '    return 1',
    '  fi',
    '  # WAL the data directory no longer has (recycled by its checkpoints) comes from its archive, if it has one.',
    '  restore_wal=$(postgres -D "$data" -C restore_command 2> /dev/null || true)',
    `  if ! ${rewind(true, 'dry-run.log')}; then`,
    '    cat "$work/dry-run.log" >&2',
    `    reason="pg_rewind cannot rewind this data directory: $(grep -i error "$work/dry-run.log" | tail -n 1)"`,
    "    if grep -q -e 'could not find previous WAL record' -e 'could not open file .*pg_wal' \"$work/dry-run.log\"; then",
    '      reason="its WAL since its last checkpoint before the two sides diverged is gone (recycled by a later checkpoint), which pg_rewind needs; keep it with wal_keep_size or a WAL archive (restore_command); $reason"',
    '    fi',
    '    return 1',
    '  fi',
    `  fork=$(sed -n 's/.*servers diverged at WAL location \\(${lsn}\\) on timeline [0-9]*.*/\\1/p' "$work/dry-run.log")`,
    `  fork_tli=$(sed -n 's/.*servers diverged at WAL location ${lsn} on timeline \\([0-9]*\\).*/\\1/p' "$work/dry-run.log")`,
    '  divergent_bytes=0 commits=0',
    '  if [ -n "$fork" ] && [ -n "$end_lsn" ]; then',
    '    divergent_bytes=$(( $(lsn_bytes "$end_lsn") - $(lsn_bytes "$fork") ))',
    '    if [ "$divergent_bytes" -lt 0 ]; then divergent_bytes=0; fi',
    '    # What only this data directory holds: its WAL after the fork. pg_waldump ends with an error at the end of the WAL.',
    `    commits=$(LC_ALL=C ${render(walStatsArgv({ walDirectory: sh('"$data/pg_wal"'), timeline: shellVar('fork_tli'), start: shellVar('fork') }))} 2> /dev/null | awk '$1 == "Transaction/COMMIT" { n = $2 } END { print n + 0 }')`,
    '    echo "only $data holds WAL from $fork to $end_lsn on timeline $fork_tli: $divergent_bytes bytes, $commits commits (the divergence copy keeps them; the rewind discards them)"',
    '  else',
    '    echo "$data holds nothing the source lacks: $(tail -n 1 "$work/dry-run.log")"',
    '  fi',
    '  save_config',
    `  if ! ${rewind(false, 'rewind.log')}; then`,
    '    cat "$work/rewind.log" >&2',
    `    reason="pg_rewind failed: $(grep -i error "$work/rewind.log" | tail -n 1)"`,
    '    return 1',
    '  fi',
    '  cat "$work/rewind.log"',
    `  kb=$(sed -n 's/^[[:space:]]*\\([0-9]*\\)\\/[0-9]* kB (100%) copied.*/\\1/p' "$work/rewind.log" | tail -n 1)`,
    '  bytes=$(( ${kb:-0} * 1024 ))',
    '  method=rewind reason=',
    '}',
    '# The copy is complete: standby.signal first (from now on a start of this directory is a standby\'s), then the settings.',
    'finish_standby() {',
    '  restore_config',
    '  touch "$data/standby.signal"',
    `  settings=$(${settings})`,
    '  auto="$data/postgresql.auto.conf"',
    '  touch "$auto"',
    '  # Settings of an earlier life go: where it streamed from, and the read-only default of writes stopped for a failback.',
    `  grep -v -E '^[[:space:]]*(primary_conninfo|primary_slot_name|default_transaction_read_only)[[:space:]]*=' "$auto" > "$work/auto.conf" || true`,
    '  {',
    '    cat "$work/auto.conf"',
    `    echo "# Added by standby-operator: a standby of ${o.source.host}:${o.source.port} through slot $slot"`,
    '    printf \'%s\\n\' "$settings"',
    ...o.extraSettings.map((l) => `    echo ${quote(l)}`),
    '  } > "$auto"',
    '}',
  ];
}

/**
 * The hot standby's init container. On an empty (or half-written) data
 * directory: create the replica's physical slot on the primary, take a base
 * backup through it with -R (standby.signal, primary_conninfo with the
 * replica's application_name, primary_slot_name) and turn hot_standby on, so
 * that the pod's own postgres starts as a streaming standby. A data
 * directory that is already a standby is left as it is: the container never
 * needs the primary to restart a standby. A data directory that was promoted
 * (it ran, and is no standby) is left as it is too, unless the primary says
 * it took over from it: the primary is the same cluster, out of recovery, on
 * a newer timeline descending from the data directory's (a failback
 * promoted it). Then the data directory is the old primary and is rewound
 * with pg_rewind to follow the primary again (or bootstrapped again when it
 * cannot be rewound). Asking the primary is what keeps a promoted standby
 * that restarts while it serves from ever being rewound: no template change
 * is needed, so none restarts the serving pods.
 */
export function standbyBootstrapScript(o: StandbyBootstrapOptions & { reportFile?: string }): string {
  const primary = serverConninfo(o.primary);
  const syncSql = o.synchronous.enabled ? ensureSynchronousSql(o.synchronous.value) : releaseSynchronousSql(o.synchronous.value);
  const asSuperuser = { [ENV.user]: shellVar(ENV.superuser), [ENV.password]: shellVar(ENV.superuserPassword) };
  const where = `${o.primary.host}:${o.primary.port}`;
  const bootstrapSettings = ['hot_standby = on', ...NO_SYNCHRONOUS_STANDBYS];
  const tookOver = piped(TOOK_OVER_SQL, psqlArgv({ conninfo: primary, tuplesOnly: true, vars: { tli: shellVar('mine'), sysid: shellVar('sysid') } }), asSuperuser);
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
    ...rewindLib({ source: o.primary, keepConfig: false, extraSettings: bootstrapSettings, reportFile: o.reportFile ?? TERMINATION_LOG }),
    '',
    '# Synchronous mode: the primary waits on commit for replica 0; switched off: the setting is removed again.',
    '# Best effort: a standby must start even when the primary is gone.',
    'configure_primary() {',
    `  ${piped(syncSql, psqlArgv({ conninfo: primary, tuplesOnly: true }), asSuperuser)}`,
    '}',
    'ensure_slot() {',
    `  ${piped(ensureSlotSql(), psqlArgv({ conninfo: primary, tuplesOnly: true, vars: { slot: shellVar('slot') } }))}`,
    '}',
    '# The timeline a data directory was last on: its control file\'s, or its newest history file\'s if newer (a promotion not yet checkpointed).',
    'data_timeline() {',
    `  t=$(ctl "Latest checkpoint's TimeLineID")`,
    `  h=$(ls "$data/pg_wal" 2> /dev/null | sed -n 's/^\\([0-9A-F]\\{8\\}\\)\\.history$/\\1/p' | sort | tail -n 1)`,
    '  if [ -n "$h" ] && [ "$((0x$h))" -gt "${t:-0}" ]; then t=$((0x$h)); fi',
    '  echo "${t:-0}"',
    '}',
    '',
    'if [ -f "$data/PG_VERSION" ] && [ -f "$data/standby.signal" ]; then',
    '  echo "$data is a standby already; it resumes streaming through slot $slot"',
    `  configure_primary || echo "warning: could not check synchronous_standby_names on the primary ${where}" >&2`,
    '  exit 0',
    'fi',
    'if [ -f "$data/PG_VERSION" ] && rewound_earlier; then',
    '  echo "an earlier start rewound $data to follow the primary; finishing its standby settings"',
    '  method=rewind reason=\'an earlier start rewound the data directory\'',
    '  finish_standby',
    '  report',
    '  exit 0',
    'fi',
    'if [ -f "$data/PG_VERSION" ] && [ -f "$data/postmaster.opts" ]; then',
    '  mine=$(data_timeline)',
    `  sysid=$(ctl 'Database system identifier')`,
    `  verdict=$(${tookOver} 2> "$work/verdict.err") || verdict="unknown $(tr -s '\\n\\t' '  ' < "$work/verdict.err")"`,
    '  case "$verdict" in',
    "    'took-over '*)",
    `      echo "the primary at ${where} was promoted from timeline $mine of $data (it is on timeline \${verdict#took-over }): $data is the old primary and becomes its standby again"`,
    '      ensure_slot',
    '      if try_rewind; then',
    '        finish_standby',
    `        configure_primary || echo "warning: could not set synchronous_standby_names on the primary ${where}" >&2`,
    '        report',
    '        echo "standby data directory rewound: postgres starts streaming through slot $slot"',
    '        exit 0',
    '      fi',
    '      echo "cannot rewind $data: $reason; bootstrapping it again from the primary"',
    '      ;;',
    '    *)',
    '      case "$verdict" in',
    "        'standby '*) why='it is in recovery (a standby, e.g. of this data directory)' ;;",
    "        'not-newer '*) why=\"it is not on a newer timeline than this data directory's $mine: this side serves\" ;;",
    "        'other-system '*) why='it is another database cluster (another system identifier)' ;;",
    "        'unrelated '*) why=\"its timeline does not descend from this data directory's $mine\" ;;",
    '        *) why="it cannot be asked: ${verdict#unknown }" ;;',
    '      esac',
    `      echo "$data was promoted and is no longer a standby; leaving it as it is (the primary at ${where} did not take over from it: $why)"`,
    '      reason="promoted, and the primary did not take over from it: $why"',
    '      report',
    '      exit 0',
    '      ;;',
    '  esac',
    'fi',
    '',
    `echo "bootstrapping $data from the primary at ${where} through slot $slot"`,
    '[ -n "$reason" ] || reason=\'an empty or half-written data directory\'',
    ...EMPTY_DATA,
    'ensure_slot',
    render(baseBackupArgv({ conninfo: primary, dataDirectory: shellVar('data'), slot: shellVar('slot'), standby: true })),
    appendConfig(bootstrapSettings),
    `configure_primary || echo "warning: could not set synchronous_standby_names on the primary ${where}" >&2`,
    'method=basebackup bytes=$(( $(du -sk "$data" | cut -f1) * 1024 ))',
    'report',
    'echo "standby data directory ready: postgres starts streaming through slot $slot"',
  ].join('\n');
}

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
