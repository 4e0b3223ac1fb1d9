// The cold tier's dump CronJob script, and the layout of a dump that the
// restore reads back.
import { dumpArgv, dumpGlobalsArgv, listDumpArgv, psqlArgv, serverConninfo, type ServerAddress } from './commands.ts';
import { HEADER } from './script-parts.ts';
import { quote, render, sh } from './shell.ts';
import { BOOTSTRAP_CREATE_ROLE_SQL, BOOTSTRAP_SUPERUSER_SQL, CONFIG_FILE_SQL } from './sql.ts';

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
