// The warm tier's copy Job script: a verified base backup of the primary.
import { baseBackupArgv, psqlArgv, serverConninfo, verifyBackupArgv, type ServerAddress } from './commands.ts';
import { appendConfig, EMPTY_DATA, HEADER, NO_SYNCHRONOUS_STANDBYS } from './script-parts.ts';
import { quote, render, shellVar } from './shell.ts';
import { SERVER_VERSION_SQL } from './sql.ts';

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
