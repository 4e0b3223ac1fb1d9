// The hot standby's bootstrap init container script.
import { baseBackupArgv, psqlArgv, serverConninfo, type ServerAddress } from './commands.ts';
import { appendConfig, EMPTY_DATA, ENV, HEADER, NO_SYNCHRONOUS_STANDBYS, TERMINATION_LOG } from './script-parts.ts';
import { rewindLib } from './script-rewind.ts';
import { piped, quote, render, shellVar } from './shell.ts';
import { ensureSlotSql, ensureSynchronousSql, releaseSynchronousSql, TOOK_OVER_SQL } from './sql.ts';

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
