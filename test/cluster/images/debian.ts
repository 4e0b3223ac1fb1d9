// Debian packages for the test images: resolve a package set with its dependency closure (as
// if nothing were installed), download the .debs into a cache and unpack them into a root file
// system folder. Nothing of the packages' maintainer scripts runs: the images need files only.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClusterError, isNotFound, run, tail } from '../common.ts';

export interface Deb {
  name: string;
  version: string;
  /** The file name in the archive cache (`name_version_arch.deb`, `:` escaped as `%3a`). */
  file: string;
}

const LISTS = '/var/lib/apt/lists';

/** Options that make apt resolve and download as if no package were installed, without root's lock. */
function aptOptions(dir: string): string[] {
  return [
    '-o', `Dir::State::status=${join(dir, 'empty-status')}`,
    '-o', `Dir::Cache::archives=${join(dir, 'archives')}`,
    '-o', 'Debug::NoLocking=1',
    '--no-install-recommends',
  ];
}

async function prepare(dir: string): Promise<void> {
  await mkdir(join(dir, 'archives', 'partial'), { recursive: true });
  if (!existsSync(join(dir, 'empty-status'))) await writeFile(join(dir, 'empty-status'), '');
}

/** A fingerprint of the package lists apt resolves against (an `apt-get update` changes it). */
async function listsFingerprint(): Promise<string> {
  const h = createHash('sha256');
  const names = (await readdir(LISTS).catch(() => [])).filter((n) => n.endsWith('_Packages') || n.endsWith('Release')).sort();
  if (names.length === 0) {
    throw new ClusterError('apt has no package lists: run `apt-get update` first (the test images are built from Debian packages)');
  }
  for (const n of names) {
    const s = await stat(join(LISTS, n));
    h.update(`${n}\0${s.size}\0${s.mtimeMs}\0`);
  }
  return h.digest('hex');
}

/**
 * The packages and the whole dependency closure, resolved by apt against an empty status (so
 * the host's installed packages do not hide any). Resolving takes apt ~10 s, so the answer is
 * kept per package list fingerprint.
 */
export async function resolve(dir: string, packages: readonly string[]): Promise<Deb[]> {
  await prepare(dir);
  const key = createHash('sha256').update(`${await listsFingerprint()}\0${[...packages].sort().join(' ')}`).digest('hex').slice(0, 16);
  const cached = join(dir, `resolved-${key}.json`);
  if (existsSync(cached)) return JSON.parse(await readFile(cached, 'utf8')) as Deb[];
  let res;
  try {
    res = await run('apt-get', ['install', '--simulate', ...aptOptions(dir), ...packages]);
  } catch (err) {
    if (isNotFound(err)) throw new ClusterError('apt-get is not on PATH: the test images are built from Debian packages, on Debian');
    throw err;
  }
  if (res.code !== 0) throw new ClusterError(`apt cannot resolve ${packages.join(' ')}: ${tail(res.stderr || res.stdout, 3)}`);
  const debs: Deb[] = [];
  for (const line of res.stdout.split('\n')) {
    const m = /^Inst (\S+) \((\S+) .*\[(\w+)\]\)/.exec(line);
    if (!m?.[1] || !m[2] || !m[3]) continue;
    debs.push({ name: m[1], version: m[2], file: `${m[1]}_${m[2].replace(':', '%3a')}_${m[3]}.deb` });
  }
  if (debs.length === 0) throw new ClusterError(`apt resolved no packages for ${packages.join(' ')}: ${tail(res.stdout, 3)}`);
  debs.sort((a, b) => (a.name < b.name ? -1 : 1));
  await writeFile(cached, JSON.stringify(debs));
  return debs;
}

/** Downloads the .debs not in the cache yet; returns their paths. */
export async function download(dir: string, debs: readonly Deb[]): Promise<string[]> {
  await prepare(dir);
  const missing = debs.filter((d) => !existsSync(join(dir, 'archives', d.file)));
  if (missing.length > 0) {
    const res = await run('apt-get', ['install', '--download-only', '--yes', '--quiet', ...aptOptions(dir), ...missing.map((d) => `${d.name}=${d.version}`)]);
    if (res.code !== 0) throw new ClusterError(`downloading ${missing.length} Debian packages failed: ${tail(res.stderr || res.stdout, 3)}; check access to Debian's archive (apt-get update)`);
  }
  const paths = debs.map((d) => join(dir, 'archives', d.file));
  const absent = paths.filter((p) => !existsSync(p));
  if (absent.length > 0) throw new ClusterError(`apt did not leave ${absent.join(', ')} in the cache: run \`apt-get update\` and try again`);
  return paths;
}

/** Unpacks .debs into a root file system folder (files only; no maintainer scripts). */
export async function unpack(debFiles: readonly string[], rootfs: string): Promise<void> {
  await mkdir(rootfs, { recursive: true });
  for (const f of debFiles) {
    const res = await run('dpkg-deb', ['--extract', f, rootfs]);
    if (res.code !== 0) throw new ClusterError(`dpkg-deb --extract ${f} failed: ${tail(res.stderr, 2)}`);
  }
}
