import { describe, expect, test } from 'vitest';
import { baseBackupArgv, conninfo, psqlArgv, restoreArgv, serverConninfo } from '../../../../src/engines/postgresql/commands.ts';
import { shellVar } from '../../../../src/engines/postgresql/shell.ts';

describe('PostgreSQL client commands', () => {
  test('connection strings quote what libpq needs quoted and leave out unset values', () => {
    expect(conninfo({ host: 'db.shop.svc', port: 5432, dbname: 'postgres', user: undefined })).toBe('host=db.shop.svc port=5432 dbname=postgres');
    expect(conninfo({ dbname: "o'neil db", options: '' })).toBe("dbname='o\\'neil db' options=''");
    expect(conninfo({ dbname: 'back\\slash' })).toBe("dbname='back\\\\slash'");
    expect(serverConninfo({ host: 'h', port: 1, database: 'shop' }, 'template1')).toBe('host=h port=1 dbname=template1');
  });

  test('pg_basebackup: streamed WAL, fast checkpoint, never a prompt; -R and the slot only for a standby', () => {
    const standby = baseBackupArgv({ conninfo: 'host=p', dataDirectory: shellVar('data'), slot: shellVar('slot'), standby: true });
    expect(standby).toEqual([
      'pg_basebackup',
      '--pgdata',
      { sh: '"$data"' },
      '--dbname',
      'host=p',
      '--format=plain',
      '--wal-method=stream',
      '--checkpoint=fast',
      '--no-password',
      '--verbose',
      '--write-recovery-conf',
      '--slot',
      { sh: '"$slot"' },
    ]);
    const copy = baseBackupArgv({ conninfo: 'host=p', dataDirectory: '/d', standby: false });
    expect(copy).not.toContain('--write-recovery-conf');
    expect(copy).not.toContain('--slot');
  });

  test('psql stops at the first error, ignores ~/.psqlrc and reads stdin unless given a command or file', () => {
    expect(psqlArgv({ conninfo: 'c', vars: { slot: shellVar('slot') } })).toEqual([
      'psql',
      '--no-psqlrc',
      '--no-password',
      '--set',
      'ON_ERROR_STOP=1',
      '--set',
      { sh: 'slot="$slot"' },
      '--dbname',
      'c',
      '--file',
      '-',
    ]);
    expect(psqlArgv({ conninfo: 'c', command: 'SELECT 1', tuplesOnly: true })).toEqual(
      expect.arrayContaining(['--tuples-only', '--no-align', '--command', 'SELECT 1']),
    );
  });

  test('pg_restore recreates the database from another one and stops at the first error', () => {
    expect(restoreArgv({ host: '/s', maintenanceDatabase: 'template1', file: 'f', jobs: 2 })).toEqual([
      'pg_restore',
      '--host',
      '/s',
      '--dbname',
      'template1',
      '--clean',
      '--if-exists',
      '--create',
      '--exit-on-error',
      '--no-tablespaces',
      '--jobs=2',
      'f',
    ]);
  });
});
