// The mover's restic builders and parsers, without restic.
import { describe, expect, it } from 'vitest';
import {
  backupArgs,
  explainFailure,
  forgetArgs,
  globalArgs,
  isMissingRepository,
  parseBackupSummary,
  parseSnapshots,
  repositoryUrl,
  restoreArgs,
  resticEnv,
  snapshotsArgs,
  snapshotsToForget,
} from '../../../src/mover/restic.ts';

const id = { host: 'orders-data', tags: ['standby.dev/site=orders', 'standby.dev/volume=data'] };

describe('repositoryUrl', () => {
  it('puts one repository per volume under the bucket and prefix', () => {
    expect(repositoryUrl({ endpoint: 'https://s3.example.com/', bucket: 'dr', prefix: 'team/orders' }, 'data')).toBe('s3:https://s3.example.com/dr/team/orders/data');
    expect(repositoryUrl({ endpoint: 'http://10.0.0.5:7070', bucket: 'dr', prefix: '' }, 'wal')).toBe('s3:http://10.0.0.5:7070/dr/wal');
  });
});

describe('commands', () => {
  it('backs up the current directory with a stable host and tags, ignoring inode numbers', () => {
    expect(backupArgs(id)).toEqual(['backup', '--json', '--host', 'orders-data', '--tag', 'standby.dev/site=orders', '--tag', 'standby.dev/volume=data', '--ignore-inode', '.']);
    expect(backupArgs({ ...id, trustMtime: true })).toContain('--ignore-ctime');
  });

  it('lists, forgets (with prune) and restores (with verify) by identity', () => {
    expect(snapshotsArgs(id)).toEqual(['snapshots', '--json', '--host', 'orders-data', '--tag', 'standby.dev/site=orders', '--tag', 'standby.dev/volume=data']);
    expect(forgetArgs(['a1', 'b2'])).toEqual(['forget', '--prune', 'a1', 'b2']);
    expect(restoreArgs('abc', '/data', id)).toEqual(['restore', 'abc', '--target', '/data', '--verify']);
    expect(restoreArgs('latest', '/data', id)).toEqual(['restore', 'latest', '--host', 'orders-data', '--tag', 'standby.dev/site=orders', '--tag', 'standby.dev/volume=data', '--target', '/data', '--verify']);
  });

  it('passes the repository and password file by environment, and the CA as a flag', () => {
    expect(resticEnv({ repository: 's3:x/b/v', passwordFile: '/p', cacheDir: '/c' })).toEqual({ RESTIC_REPOSITORY: 's3:x/b/v', RESTIC_PASSWORD_FILE: '/p', RESTIC_CACHE_DIR: '/c' });
    expect(globalArgs({})).toEqual([]);
    expect(globalArgs({ caFile: '/ca.crt' })).toEqual(['--cacert', '/ca.crt']);
  });
});

describe('parsers', () => {
  it('reads the summary line of backup --json, skipping status lines', () => {
    const out = [
      '{"message_type":"status","percent_done":0.5}',
      '{"message_type":"summary","files_new":2,"files_changed":1,"files_unmodified":7,"dirs_new":0,"dirs_changed":1,"dirs_unmodified":3,"data_blobs":6,"tree_blobs":1,"data_added":5000967,"total_files_processed":10,"total_bytes_processed":5000003,"total_duration":0.35,"snapshot_id":"8b9a7747"}',
      '',
    ].join('\n');
    expect(parseBackupSummary(out)).toEqual({
      snapshotId: '8b9a7747', filesNew: 2, filesChanged: 1, filesUnmodified: 7, dirsNew: 0, dirsChanged: 1, dirsUnmodified: 3,
      dataAdded: 5000967, totalFilesProcessed: 10, totalBytesProcessed: 5000003, durationSeconds: 0.35,
    });
    expect(() => parseBackupSummary('{"message_type":"status"}')).toThrow('restic backup printed no summary');
  });

  it('reads snapshots --json', () => {
    const s = parseSnapshots('[{"time":"2026-12-01T09:47:58.276602561Z","hostname":"h1","tags":["a"],"id":"8b9a77","short_id":"8b9a"}]');
    expect(s).toEqual([{ id: '8b9a77', time: new Date('2026-12-01T09:47:58.276Z'), host: 'h1', tags: ['a'] }]);
    expect(parseSnapshots('')).toEqual([]);
    expect(() => parseSnapshots('{}')).toThrow('did not print a list');
  });
});

describe('snapshotsToForget (the site retention rule)', () => {
  const now = new Date('2026-12-10T00:00:00Z');
  const snap = (id: string, daysAgo: number) => ({ id, time: new Date(now.getTime() - daysAgo * 86_400_000), host: 'h', tags: [] });
  const list = [snap('d1', 1), snap('d3', 3), snap('d5', 5), snap('d8', 8)];

  it('keepLast keeps the newest N', () => {
    expect(snapshotsToForget(list, { keepLast: 2 }, now).sort()).toEqual(['d5', 'd8']);
  });

  it('maxAge forgets what is older, measured from now', () => {
    expect(snapshotsToForget(list, { maxAgeMs: 4 * 86_400_000 }, now).sort()).toEqual(['d5', 'd8']);
  });

  it('with both, a snapshot goes when either says so (unlike restic --keep-last/--keep-within, which keep the union)', () => {
    expect(snapshotsToForget(list, { keepLast: 3, maxAgeMs: 2 * 86_400_000 }, now).sort()).toEqual(['d3', 'd5', 'd8']);
  });

  it('never forgets the newest, however old', () => {
    expect(snapshotsToForget([snap('old', 100), snap('older', 200)], { maxAgeMs: 86_400_000 }, now)).toEqual(['older']);
  });
});

describe('failures', () => {
  const repo = 's3:http://s3/b/v';

  it('tells a missing repository from a refused signature or an unreachable endpoint (restic words all three alike)', () => {
    const missing = 'Fatal: unable to open config file: Stat: The specified key does not exist.\nIs there a repository at the following location?\ns3:http://s3/b/v';
    const noBucket = 'Fatal: unable to open config file: Stat: The specified bucket does not exist.\nIs there a repository at the following location?';
    const signature = 'Fatal: unable to open config file: Stat: The request signature we calculated does not match the signature you provided. Check your key and signing method.\nIs there a repository at the following location?';
    const refused = 'Fatal: unable to open config file: Stat: Get "http://127.0.0.1:1/b/?location=": dial tcp 127.0.0.1:1: connect: connection refused\nIs there a repository at the following location?';
    expect(isMissingRepository(missing)).toBe(true);
    expect(isMissingRepository(noBucket)).toBe(true);
    expect(isMissingRepository(signature)).toBe(false);
    expect(isMissingRepository(refused)).toBe(false);
    expect(explainFailure('cat config', missing, repo)).toBe('restic cat config: there is no restic repository at s3:http://s3/b/v');
    expect(explainFailure('cat config', signature, repo)).toMatch(/^restic cat config: the S3 server refused the credentials for s3:http:\/\/s3\/b\/v \(unable to open config file/);
    expect(explainFailure('cat config', refused, repo)).toMatch(/^restic cat config: cannot reach the S3 endpoint of s3:http:\/\/s3\/b\/v \(.*connection refused\)$/);
  });

  it('says that the password is not the repository\'s', () => {
    expect(explainFailure('snapshots', 'Fatal: wrong password or no key found\n', repo)).toBe('restic snapshots: the repository password does not open s3:http://s3/b/v; the password Secret must be the one the repository was created with');
  });
});
