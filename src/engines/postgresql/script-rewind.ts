// The rewind library: shell functions that the standby's bootstrap and the
// re-protect Job both embed, and the report they print.
import { crashRecoveryArgv, psqlArgv, rewindArgv, serverConninfo, walStatsArgv, type ServerAddress } from './commands.ts';
import { ENV } from './script-parts.ts';
import { piped, quote, render, sh, shellVar, withEnv } from './shell.ts';
import { SOURCE_CHECKPOINT_SQL, STANDBY_SETTINGS_SQL } from './sql.ts';

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
export function rewindLib(o: RewindLibOptions): string[] {
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
