// The volume mover's restic commands, as pure builders and parsers: which arguments and
// environment each step runs with, and what its JSON output means. The mover runs restic
// itself (run.ts); these functions decide everything it runs, so they are unit-tested.
//
// One restic repository per volume: s3:<endpoint>/<bucket>/<prefix>/<volume>. Snapshots carry
// a stable host name (pods are renamed every run, and restic picks the parent snapshot, the one
// whose files it need not read again, by host and path) and tags naming the site and volume.
import { applyRetention, type RetentionPolicy } from '../snapshot/retention.ts';

/** Where the copies of one volume go: an S3 bucket both sites reach. */
export interface S3Location {
  /** e.g. `https://s3.eu-west-1.amazonaws.com` or `http://10.0.0.5:7070`. */
  endpoint: string;
  bucket: string;
  /** Key prefix inside the bucket (no leading or trailing `/`); may be empty. */
  prefix: string;
}

/** restic's S3 repository URL of one volume. */
export function repositoryUrl(location: S3Location, volume: string): string {
  const endpoint = location.endpoint.replace(/\/+$/, '');
  const parts = [location.bucket, ...location.prefix.split('/'), volume].filter((p) => p !== '');
  return `s3:${endpoint}/${parts.join('/')}`;
}

/** Environment of every restic call (credentials come from the caller's environment or Secret refs). */
export function resticEnv(o: { repository: string; passwordFile: string; cacheDir?: string | undefined }): Record<string, string> {
  return {
    RESTIC_REPOSITORY: o.repository,
    RESTIC_PASSWORD_FILE: o.passwordFile,
    ...(o.cacheDir === undefined ? {} : { RESTIC_CACHE_DIR: o.cacheDir }),
  };
}

/** Options every command gets: TLS trust for the endpoint. */
export function globalArgs(o: { caFile?: string | undefined }): string[] {
  return o.caFile === undefined ? [] : ['--cacert', o.caFile];
}

/** Which snapshots belong to this mover: one host name and the tags it writes. */
export interface Identity {
  host: string;
  tags: string[];
}

function filterArgs(id: Identity): string[] {
  return ['--host', id.host, ...id.tags.flatMap((t) => ['--tag', t])];
}

/** `cat config` exits 0 once the repository exists (and the password opens it). */
export const catConfigArgs = (): string[] => ['cat', 'config'];

export const initArgs = (): string[] => ['init'];

export interface BackupOptions extends Identity {
  /**
   * Trust modification times: skip files whose size and mtime are unchanged even if their
   * ctime changed (as it does on every file of a volume cloned file by file). Default false:
   * such files are read again, and deduplication still sends only what changed.
   */
  trustMtime?: boolean;
}

/**
 * `backup` of the current directory (the mover runs it from the volume's mount point, so the
 * snapshot holds the volume's files at its root). Inode numbers are ignored: a snapshot clone
 * of the same volume has other inodes but the same files.
 */
export function backupArgs(o: BackupOptions): string[] {
  return ['backup', '--json', ...filterArgs(o), '--ignore-inode', ...(o.trustMtime === true ? ['--ignore-ctime'] : []), '.'];
}

export function snapshotsArgs(id: Identity): string[] {
  return ['snapshots', '--json', ...filterArgs(id)];
}

/** Forgets the given snapshots and prunes the data only they referenced. */
export function forgetArgs(ids: readonly string[]): string[] {
  return ['forget', '--prune', ...ids];
}

/** Restores a snapshot into `target` and reads every restored file back against the repository. */
export function restoreArgs(snapshot: string, target: string, id: Identity): string[] {
  return ['restore', snapshot, ...(snapshot === 'latest' ? filterArgs(id) : []), '--target', target, '--verify'];
}

export function statsArgs(snapshot: string): string[] {
  return ['stats', '--json', '--mode', 'restore-size', snapshot];
}

/** What one backup did, from restic's own summary line. */
export interface BackupSummary {
  snapshotId: string;
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  dirsNew: number;
  dirsChanged: number;
  dirsUnmodified: number;
  /** Bytes added to the repository (after deduplication, before compression): what was sent. */
  dataAdded: number;
  totalFilesProcessed: number;
  totalBytesProcessed: number;
  durationSeconds: number;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** The summary message of `backup --json` (one JSON object per line; the summary is the last). */
export function parseBackupSummary(stdout: string): BackupSummary {
  for (const line of stdout.split('\n').reverse()) {
    if (!line.trim().startsWith('{')) continue;
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (msg.message_type !== 'summary') continue;
    if (typeof msg.snapshot_id !== 'string' || msg.snapshot_id === '') throw new Error('restic backup printed a summary without a snapshot id');
    return {
      snapshotId: msg.snapshot_id,
      filesNew: num(msg.files_new),
      filesChanged: num(msg.files_changed),
      filesUnmodified: num(msg.files_unmodified),
      dirsNew: num(msg.dirs_new),
      dirsChanged: num(msg.dirs_changed),
      dirsUnmodified: num(msg.dirs_unmodified),
      dataAdded: num(msg.data_added),
      totalFilesProcessed: num(msg.total_files_processed),
      totalBytesProcessed: num(msg.total_bytes_processed),
      durationSeconds: num(msg.total_duration),
    };
  }
  throw new Error('restic backup printed no summary');
}

/** One snapshot of the repository, as `snapshots --json` lists it. */
export interface Snapshot {
  id: string;
  time: Date;
  host: string;
  tags: string[];
}

export function parseSnapshots(stdout: string): Snapshot[] {
  const raw = JSON.parse(stdout.trim() === '' ? '[]' : stdout) as unknown;
  if (!Array.isArray(raw)) throw new Error('restic snapshots --json did not print a list');
  return raw.map((s: unknown) => {
    const o = s as { id?: unknown; time?: unknown; hostname?: unknown; tags?: unknown };
    if (typeof o.id !== 'string' || typeof o.time !== 'string') throw new Error('restic snapshots --json listed a snapshot without id or time');
    return {
      id: o.id,
      time: new Date(o.time),
      host: typeof o.hostname === 'string' ? o.hostname : '',
      tags: Array.isArray(o.tags) ? o.tags.filter((t): t is string => typeof t === 'string') : [],
    };
  });
}

/** `stats --json --mode restore-size`: what a restore of the snapshot writes. */
export function parseStats(stdout: string): { totalSize: number; totalFileCount: number } {
  const o = JSON.parse(stdout) as { total_size?: unknown; total_file_count?: unknown };
  return { totalSize: num(o.total_size), totalFileCount: num(o.total_file_count) };
}

/**
 * The snapshots the site's retention lets go. The same rule as the site's VolumeSnapshots
 * (src/snapshot/retention.ts): the newest is always kept; the others go when they are beyond
 * keepLast or older than maxAge. (restic's own `forget --keep-last --keep-within` keeps a
 * snapshot that *either* rule keeps, and measures age from the newest snapshot rather than
 * now, so it would keep more than the site says; the ids are chosen here instead.)
 */
export function snapshotsToForget(snapshots: readonly Snapshot[], policy: RetentionPolicy, now: Date): string[] {
  // Every listed snapshot is complete: an incomplete backup's snapshot is forgotten by the mover at once.
  const decision = applyRetention(snapshots.map((s) => ({ run: s.id, time: s.time, ready: true })), policy, now, Number.POSITIVE_INFINITY);
  return decision.delete;
}

/** What a restic failure means, in a sentence that says what to do. */
export function explainFailure(step: string, stderr: string, repository: string): string {
  // restic says "Is there a repository at the following location?" after any failure to read
  // the config, a refused signature or an unreachable endpoint included: those are told first.
  const text = stderr.trim();
  const fatal = text.split('\n').find((l) => l.startsWith('Fatal:'))?.replace(/^Fatal:\s*/, '') ?? lastLine(text);
  if (/wrong password or no key found/i.test(text)) {
    return `restic ${step}: the repository password does not open ${repository}; the password Secret must be the one the repository was created with`;
  }
  if (/AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|signature we calculated does not match|access key/i.test(text)) {
    return `restic ${step}: the S3 server refused the credentials for ${repository} (${fatal})`;
  }
  if (/no such host|connection refused|i\/o timeout|network is unreachable|no route to host|dial tcp/i.test(text)) {
    return `restic ${step}: cannot reach the S3 endpoint of ${repository} (${fatal})`;
  }
  if (isMissingRepository(text)) return `restic ${step}: there is no restic repository at ${repository}`;
  return `restic ${step} failed: ${fatal || 'no output'}`;
}

function lastLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '').pop() ?? '';
}

/**
 * Whether `cat config` failed because the repository (or its bucket) does not exist yet, so
 * `init` is right: only the S3 server's own "does not exist", never a refused signature or an
 * unreachable endpoint (restic words those the same way otherwise).
 */
export function isMissingRepository(stderr: string): boolean {
  if (/wrong password|signature|access key|AccessDenied|dial tcp|no such host|timeout/i.test(stderr)) return false;
  return /The specified (key|bucket) does not exist|NoSuchKey|NoSuchBucket/i.test(stderr);
}
