// What a mover Job does (`standby-operator mover backup|restore`): runs restic with the
// arguments restic.ts builds, in order, and reports what happened. The thin I/O shell around
// the builders; the tests run it against a real S3 server and real directories.
import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import type { RetentionPolicy } from '../snapshot/retention.ts';
import {
  backupArgs,
  catConfigArgs,
  explainFailure,
  forgetArgs,
  initArgs,
  isMissingRepository,
  parseBackupSummary,
  parseSnapshots,
  parseStats,
  restoreArgs,
  snapshotsArgs,
  snapshotsToForget,
  statsArgs,
  type BackupOptions,
  type BackupSummary,
  type Identity,
} from './restic.ts';

/** How to call restic: the program, its environment (repository, password file, S3 keys) and global flags. */
export interface Restic {
  program: string;
  env: NodeJS.ProcessEnv;
  globalArgs: string[];
  /** The repository URL, for messages. */
  repository: string;
}

export class MoverError extends Error {
  override name = 'MoverError';
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function restic(r: Restic, args: string[], cwd?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(r.program, [...r.globalArgs, ...args], { cwd, env: r.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => {
      reject((e as { code?: string }).code === 'ENOENT' ? new MoverError(`restic is not installed (no ${r.program} on PATH)`) : e);
    });
    child.on('close', (code, signal) => {
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

async function must(r: Restic, step: string, args: string[], cwd?: string): Promise<Result> {
  const res = await restic(r, args, cwd);
  if (res.code !== 0) throw new MoverError(explainFailure(step, res.stderr, r.repository));
  return res;
}

/**
 * Creates the repository if it does not exist yet; never over an existing one (restic refuses
 * that too), and never when the failure was anything but "does not exist".
 */
export async function ensureRepository(r: Restic): Promise<'created' | 'exists'> {
  const cat = await restic(r, catConfigArgs());
  if (cat.code === 0) return 'exists';
  if (!isMissingRepository(cat.stderr)) throw new MoverError(explainFailure('cat config', cat.stderr, r.repository));
  await must(r, 'init', initArgs());
  return 'created';
}

export interface BackupRequest {
  /** The directory to back up (the mounted volume, e.g. a snapshot clone of the primary's). */
  source: string;
  options: BackupOptions;
  retention: RetentionPolicy;
  now?: () => Date;
}

export interface BackupResult {
  repository: string;
  created: boolean;
  summary: BackupSummary;
  /** Snapshots the retention let go (and whose data was pruned). */
  forgotten: string[];
  /** Snapshots of this volume left in the repository. */
  kept: number;
}

async function mustBeDirectory(path: string, what: string): Promise<void> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isDirectory()) throw new MoverError(`${what} ${path} is not a directory (is the volume mounted?)`);
}

export async function backup(r: Restic, req: BackupRequest): Promise<BackupResult> {
  await mustBeDirectory(req.source, 'the backup source');
  const created = (await ensureRepository(r)) === 'created';
  // Locks left by a mover pod that was killed mid-run; `unlock` removes only stale ones.
  await must(r, 'unlock', ['unlock']);
  const res = await restic(r, backupArgs(req.options), req.source);
  if (res.code === 3) {
    // restic wrote a snapshot without the files it could not read: that is not a copy of the
    // volume, so it must not be the one a restore picks.
    const partial = (() => {
      try {
        return parseBackupSummary(res.stdout).snapshotId;
      } catch {
        return undefined;
      }
    })();
    if (partial !== undefined) await must(r, 'forget', ['forget', partial]);
    const unreadable = res.stderr.split('\n').filter((l) => /error|denied/i.test(l)).slice(0, 5).join('; ');
    throw new MoverError(`restic backup could not read every file of ${req.source} (${unreadable}); the incomplete snapshot was discarded: does the mover run as the volume's owner?`);
  }
  if (res.code !== 0) throw new MoverError(explainFailure('backup', res.stderr, r.repository));
  const summary = parseBackupSummary(res.stdout);

  const snapshots = parseSnapshots((await must(r, 'snapshots', snapshotsArgs(req.options))).stdout);
  // restic 0.14's summary names the snapshot by its short id; report the full one.
  const written = snapshots.find((s) => s.id.startsWith(summary.snapshotId));
  if (!written) throw new MoverError(`restic backup reported snapshot ${summary.snapshotId}, which the repository does not list`);
  summary.snapshotId = written.id;
  const forget = snapshotsToForget(snapshots, req.retention, (req.now ?? (() => new Date()))());
  // The snapshot just written is the newest: retention never lets it go.
  if (forget.includes(summary.snapshotId)) throw new MoverError(`retention chose the snapshot just written (${summary.snapshotId}); refusing to forget it`);
  if (forget.length > 0) await must(r, 'forget', forgetArgs(forget));
  return { repository: r.repository, created, summary, forgotten: forget, kept: snapshots.length - forget.length };
}

export interface RestoreRequest {
  /** An empty directory (a fresh volume; `lost+found` is allowed). */
  target: string;
  /** A snapshot id, or `latest` (the newest of this identity). */
  snapshot: string;
  identity: Identity;
}

export interface RestoreResult {
  repository: string;
  snapshotId: string;
  snapshotTime: string;
  files: number;
  bytes: number;
}

export async function restore(r: Restic, req: RestoreRequest): Promise<RestoreResult> {
  await mustBeDirectory(req.target, 'the restore target');
  const present = (await readdir(req.target)).filter((n) => n !== 'lost+found');
  if (present.length > 0) {
    throw new MoverError(`the restore target ${req.target} is not empty (${present.slice(0, 5).join(', ')}${present.length > 5 ? ', ...' : ''}): a restore only writes into a fresh volume, and nothing was changed`);
  }
  const snapshots = parseSnapshots((await must(r, 'snapshots', snapshotsArgs(req.identity))).stdout)
    .sort((a, b) => b.time.getTime() - a.time.getTime());
  const chosen = req.snapshot === 'latest'
    ? snapshots[0]
    : snapshots.find((s) => s.id === req.snapshot || s.id.startsWith(req.snapshot));
  if (!chosen) {
    throw new MoverError(req.snapshot === 'latest'
      ? `${r.repository} holds no snapshot of host ${req.identity.host} with tags ${req.identity.tags.join(', ')}: nothing to restore`
      : `${r.repository} holds no snapshot ${req.snapshot} of host ${req.identity.host}`);
  }
  await must(r, 'restore', restoreArgs(chosen.id, req.target, req.identity));
  const stats = parseStats((await must(r, 'stats', statsArgs(chosen.id))).stdout);
  return { repository: r.repository, snapshotId: chosen.id, snapshotTime: chosen.time.toISOString(), files: stats.totalFileCount, bytes: stats.totalSize };
}
