// The cold tier's restore Job script: the newest dump into a fresh cluster.
import { initdbArgv, psqlArgv, restoreArgv, startPrivateServerArgv, stopServerArgv } from './commands.ts';
import { DUMP_FILES, DUMP_NAME_PATTERN } from './script-dump.ts';
import { appendConfig, EMPTY_DATA, NO_SYNCHRONOUS_STANDBYS } from './script-parts.ts';
import { quote, render, sh, shellVar } from './shell.ts';

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
