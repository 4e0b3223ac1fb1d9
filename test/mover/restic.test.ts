// The volume mover's data path against real parts: restic (Debian's package) backing real
// folders up into a real S3 server (versitygw on loopback) and restoring them into fresh
// folders, through the Jobs exactly as src/mover/job.ts builds them (run locally by
// local-job.ts). Checks: every byte, mode, mtime and link restored equals what was backed up;
// a second run sends only what changed (restic's own statistics); retention; refusals.
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, chmod, cp, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBackupJob, buildRestoreJob, CACHE_DIR, DATA_DIR, PASSWORD_DIR, RESULT_FILE, type MoverJobInput } from '../../src/mover/job.ts';
import { repositoryUrl, resticEnv, type BackupSummary } from '../../src/mover/restic.ts';
import { backup, MoverError, type Restic } from '../../src/mover/run.ts';
import { startS3Server, type S3Server } from '../cluster/s3.ts';
import { runJobLocally } from './local-job.ts';

let s3: S3Server;
let work: string;
const PASSWORD = randomBytes(16).toString('hex');
const identity = { host: 'orders-data', tags: ['standby.dev/site=orders', 'standby.dev/volume=data'] };

function base(volume: string): MoverJobInput {
  return {
    name: `orders-${volume}-mover`,
    namespace: 'orders',
    labels: { 'standby.dev/site': 'orders' },
    image: 'standby-operator:test',
    location: { endpoint: s3.endpoint, bucket: 'standby-copies', prefix: 'orders/primary', region: s3.region },
    credentialsSecret: 's3-credentials',
    passwordSecret: { name: 'restic-password', key: 'password' },
    volume,
    claim: `data-orders-0-${volume}`,
    identity,
  };
}

function secrets(password = PASSWORD): Record<string, Record<string, string>> {
  return {
    's3-credentials': { AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey },
    'restic-password': { password },
  };
}

/** Folders standing in for the pod's mounts. */
async function mounts(data: string, passwordDir = join(work, 'password')): Promise<Record<string, string>> {
  const run = await mkdtemp(join(work, 'pod-'));
  await mkdir(join(run, 'tmp'));
  return { [DATA_DIR]: data, [PASSWORD_DIR]: passwordDir, [CACHE_DIR]: join(work, 'cache'), [RESULT_FILE]: join(run, 'termination-log'), '/tmp': join(run, 'tmp') };
}

async function runBackup(volume: string, data: string, extra: Partial<Parameters<typeof buildBackupJob>[0]> = {}): Promise<BackupSummary & { forgotten: string[]; kept: number; created: boolean }> {
  const job = buildBackupJob({ ...base(volume), retention: { keepLast: 3 }, ...extra });
  const res = await runJobLocally(job, await mounts(data), secrets());
  expect(res.code, res.stderr).toBe(0);
  const r = res.result as { summary: BackupSummary; forgotten: string[]; kept: number; created: boolean };
  return { ...r.summary, forgotten: r.forgotten, kept: r.kept, created: r.created };
}

async function runRestore(volume: string, target: string, snapshot = 'latest') {
  const job = buildRestoreJob({ ...base(volume), snapshot });
  return runJobLocally(job, await mounts(target), secrets());
}

/** Every entry under a folder: type, mode, size, mtime, content hash or link target. */
async function manifest(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const path = join(rel, name);
      const st = await lstat(join(root, path));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[path] = `link ${await readlink(join(root, path))}`;
      else if (st.isDirectory()) {
        out[path] = `dir ${mode}`;
        await walk(path);
      } else {
        const hash = createHash('sha256').update(await readFile(join(root, path))).digest('hex');
        out[path] = `file ${mode} ${st.size} ${Math.floor(st.mtimeMs)} ${hash}`;
      }
    }
  };
  await walk('');
  return out;
}

const BIG = 16 * 1024 * 1024;

async function makeVolume(dir: string): Promise<void> {
  await mkdir(join(dir, 'pgdata', 'base'), { recursive: true });
  await writeFile(join(dir, 'pgdata', 'base', 'big.bin'), randomBytes(BIG));
  for (let i = 0; i < 50; i++) await writeFile(join(dir, 'pgdata', 'base', `rel-${i}`), randomBytes(4096 + i * 100));
  await writeFile(join(dir, 'name with spaces.txt'), 'spaces\n');
  await writeFile(join(dir, 'empty'), '');
  await writeFile(join(dir, 'secret.key'), randomBytes(64));
  await chmod(join(dir, 'secret.key'), 0o600);
  await symlink('pgdata/base/rel-1', join(dir, 'link'));
  await mkdir(join(dir, 'empty-dir'));
}

beforeAll(async () => {
  s3 = await startS3Server();
  work = await mkdtemp(join(tmpdir(), 'standby-mover-'));
  await mkdir(join(work, 'password'));
  await writeFile(join(work, 'password', 'password'), PASSWORD);
  await mkdir(join(work, 'cache'));
});

afterAll(async () => {
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('backup and restore through S3', () => {
  let src: string;
  let first: BackupSummary;

  it('restores into a fresh folder exactly the bytes, modes, times and links that were backed up', async () => {
    src = join(work, 'volume');
    await mkdir(src);
    await makeVolume(src);
    first = await runBackup('data', src);
    expect(first.filesNew).toBe(50 + 1 + 3); // regular files: rel-*, big.bin, spaces, empty, secret.key
    expect(first.dataAdded).toBeGreaterThanOrEqual(BIG);

    // The repository is in the S3 server's bucket, under the volume's prefix.
    const repoDir = join(s3.root, 'standby-copies', 'orders', 'primary', 'data');
    expect(await readdir(repoDir)).toEqual(expect.arrayContaining(['config', 'data', 'index', 'keys', 'snapshots']));

    const target = join(work, 'restored-1');
    await mkdir(target);
    const res = await runRestore('data', target);
    expect(res.code, res.stderr).toBe(0);
    expect(res.result).toMatchObject({ snapshotId: first.snapshotId, repository: repositoryUrl(base('data').location, 'data') });
    expect(await manifest(target)).toEqual(await manifest(src));
  });

  it('a second run sends only what changed, and the restore has the change', async () => {
    await appendFile(join(src, 'pgdata', 'base', 'rel-7'), randomBytes(100 * 1024));
    await writeFile(join(src, 'pgdata', 'base', 'rel-new'), randomBytes(50 * 1024));
    const second = await runBackup('data', src);
    expect(second.filesNew).toBe(1);
    expect(second.filesChanged).toBe(1);
    expect(second.filesUnmodified).toBe(first.filesNew - 1);
    expect(second.dataAdded).toBeGreaterThan(150 * 1024);
    expect(second.dataAdded).toBeLessThan(1024 * 1024); // big.bin (16 MiB) was not sent again

    const target = join(work, 'restored-2');
    await mkdir(target);
    expect((await runRestore('data', target)).code).toBe(0);
    expect(await manifest(target)).toEqual(await manifest(src));

    // The first snapshot still restores the first state.
    const old = join(work, 'restored-old');
    await mkdir(old);
    expect((await runRestore('data', old, first.snapshotId)).code).toBe(0);
    expect((await manifest(old))['pgdata/base/rel-new']).toBeUndefined();
  });

  it('a fresh clone of the volume (new inodes and ctimes, same files) sends nothing but metadata', async () => {
    const before = await manifest(src);
    await rename(src, `${src}.prev`);
    await cp(`${src}.prev`, src, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    await rm(`${src}.prev`, { recursive: true });
    expect(await manifest(src)).toEqual(before);

    const reread = await runBackup('data', src);
    expect(reread.filesNew).toBe(0);
    expect(reread.dataAdded).toBeLessThan(64 * 1024); // tree metadata only: every file deduplicated

    // Trusting mtimes, restic does not even read the unchanged files.
    const trusted = await runBackup('data', src, { trustMtime: true });
    expect(trusted.filesUnmodified).toBe(first.filesNew + 1);
    expect(trusted.filesChanged).toBe(0);
  });

  it('keeps the newest keepLast snapshots and forgets the rest, whose restore then fails', async () => {
    // Four backups so far; keepLast 3 has already let the first go in the fourth run.
    const fifth = await runBackup('data', src);
    expect(fifth.kept).toBe(3);
    const target = join(work, 'restored-forgotten');
    await mkdir(target);
    const res = await runRestore('data', target, first.snapshotId);
    expect(res.code).toBe(1);
    expect(res.result?.error).toMatch(/holds no snapshot/);
    expect(await readdir(target)).toEqual([]);
  });
});

describe('retention by age (the site rule: the newest is always kept)', () => {
  it('forgets every snapshot older than maxAge but the newest', async () => {
    const dir = join(work, 'aged');
    await mkdir(dir);
    await writeFile(join(dir, 'f'), 'one');
    const r: Restic = {
      program: 'restic',
      env: { ...process.env, AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey, ...resticEnv({ repository: repositoryUrl(base('aged').location, 'aged'), passwordFile: join(work, 'password', 'password') }) },
      globalArgs: [],
      repository: repositoryUrl(base('aged').location, 'aged'),
    };
    const opts = { host: 'aged', tags: ['t'] };
    const a = await backup(r, { source: dir, options: opts, retention: { maxAgeMs: 3_600_000 } });
    expect(a.created).toBe(true);
    await writeFile(join(dir, 'f'), 'two');
    const b = await backup(r, { source: dir, options: opts, retention: { maxAgeMs: 3_600_000 } });
    expect(b.forgotten).toEqual([]);
    expect(b.kept).toBe(2);
    // Two hours later, both are older than an hour: only the newest (the one just taken) stays.
    const later = () => new Date(Date.now() + 2 * 3_600_000);
    const c = await backup(r, { source: dir, options: opts, retention: { maxAgeMs: 3_600_000 }, now: later });
    expect(c.forgotten.sort()).toEqual([a.summary.snapshotId, b.summary.snapshotId].sort());
    expect(c.kept).toBe(1);
  });
});

describe('refusals', () => {
  it('a wrong repository password fails saying so, and restores nothing', async () => {
    const target = join(work, 'wrong-password');
    await mkdir(target);
    const job = buildRestoreJob({ ...base('data'), snapshot: 'latest' });
    const pw = join(work, 'other-password');
    await mkdir(pw);
    await writeFile(join(pw, 'password'), 'not-the-password');
    const res = await runJobLocally(job, await mounts(target, pw), secrets('not-the-password'));
    expect(res.code).toBe(1);
    expect(res.result?.error).toMatch(/the repository password does not open s3:http/);
    expect(await readdir(target)).toEqual([]);
  });

  it('a restore into a folder that holds files is refused and changes nothing', async () => {
    const target = join(work, 'not-empty');
    await mkdir(join(target, 'lost+found'), { recursive: true });
    await writeFile(join(target, 'divergent.db'), 'keep me');
    const res = await runRestore('data', target);
    expect(res.code).toBe(1);
    expect(res.result?.error).toMatch(/restore target .* is not empty \(divergent\.db\)/);
    expect(await readFile(join(target, 'divergent.db'), 'utf8')).toBe('keep me');
    expect((await readdir(target)).sort()).toEqual(['divergent.db', 'lost+found']);
  });

  it('an unreachable S3 endpoint fails saying so', async () => {
    const dir = join(work, 'unreachable');
    await mkdir(dir);
    const r: Restic = {
      program: 'restic',
      env: { ...process.env, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', ...resticEnv({ repository: 's3:http://127.0.0.1:9/bucket/v', passwordFile: join(work, 'password', 'password') }) },
      globalArgs: [],
      repository: 's3:http://127.0.0.1:9/bucket/v',
    };
    await expect(backup(r, { source: dir, options: { host: 'h', tags: [] }, retention: { keepLast: 1 } }))
      .rejects.toThrow(MoverError);
    await expect(backup(r, { source: dir, options: { host: 'h', tags: [] }, retention: { keepLast: 1 } }))
      .rejects.toThrow(/^restic cat config: cannot reach the S3 endpoint of s3:http:\/\/127\.0\.0\.1:9\/bucket\/v \(.*connection refused\)$/);
  });
});
