// `npm run images`: builds the OCI images that pods on the real nodes run, without Docker, from
// what the registries serve:
//
//   standby.dev/operator:<version>  Node 24 from the npm `node` package + dist/ + production
//                                   node_modules, laid out as the Dockerfile's image
//   standby.dev/postgres:<major>    PostgreSQL from Debian's packages, busybox for the shell tools
//   standby.dev/shell:1             busybox (Debian's busybox-static): generic workloads
//   standby.dev/pause:1             busybox sleeping: the pod sandbox image
//
// Each image is cached by a hash of its inputs under
// ${XDG_CACHE_HOME:-~/.cache}/standby-operator/images/<image>-<hash>/ (image.tar, image.json);
// a run with nothing changed builds nothing. Tests pin the images by manifest digest.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, cp, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { cacheRoot as clusterCacheRoot } from '../build.ts';
import { ClusterError, log, repoRoot, run, runMain, tail } from '../common.ts';
import { download, resolve, unpack } from './debian.ts';
import { writeImage, type RunConfig, type WrittenImage } from './oci.ts';

/** Bumped when the way images are put together changes (part of every cache key). */
const BUILDER_VERSION = '1';
const POSTGRES_MAJOR = 15; // Debian 12's PostgreSQL
const NONROOT = 65532; // distroless' nonroot user, as in the Dockerfile
const POSTGRES_UID = 999; // the official postgres images' uid, which the engine's Jobs assume

export interface ImageSet {
  operator: WrittenImage;
  postgres: WrittenImage;
  shell: WrittenImage;
  pause: WrittenImage;
}

export function imagesCacheRoot(): string {
  return join(dirname(clusterCacheRoot()), 'images');
}

const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';

/** The operator image's run config and paths: the Dockerfile's runtime stage (test/unit compares). */
export function operatorImageSpec(version: string): { name: string; config: RunConfig; paths: string[] } {
  return {
    name: `standby.dev/operator:${version}`,
    config: {
      User: `${NONROOT}:${NONROOT}`,
      Env: [`PATH=${SYSTEM_PATH}`, 'NODE_ENV=production'],
      WorkingDir: '/app',
      Entrypoint: ['/nodejs/bin/node', 'dist/cli/main.js'],
      Cmd: ['run'],
      ExposedPorts: { '8080/tcp': {} },
    },
    paths: ['/app/package.json', '/app/node_modules', '/app/dist', '/usr/bin/restic', '/nodejs/bin/node'],
  };
}

export function postgresImageSpec(): { name: string; config: RunConfig } {
  return {
    name: `standby.dev/postgres:${POSTGRES_MAJOR}`,
    config: {
      User: `${POSTGRES_UID}:${POSTGRES_UID}`,
      Env: [`PATH=/usr/lib/postgresql/${POSTGRES_MAJOR}/bin:${SYSTEM_PATH}`, 'PGDATA=/var/lib/postgresql/data', 'LANG=C.UTF-8'],
      Entrypoint: ['/usr/local/bin/postgres-entrypoint'],
      ExposedPorts: { '5432/tcp': {} },
    },
  };
}

// -- helpers ----------------------------------------------------------------------------------

function hash(parts: readonly (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 16);
}

async function hashTree(dir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) h.update(relative(dir, p)).update('\0').update(await readFile(p)).update('\0');
    }
  };
  await walk(dir);
  return h.digest('hex');
}

interface Cached { dir: string; image?: WrittenImage }

async function cached(name: string, key: string): Promise<Cached> {
  const dir = join(imagesCacheRoot(), `${name}-${key}`);
  const meta = join(dir, 'image.json');
  if (existsSync(meta)) {
    const image = JSON.parse(await readFile(meta, 'utf8')) as WrittenImage;
    if (existsSync(image.archive)) return { dir, image };
  }
  return { dir };
}

async function finish(dir: string, image: WrittenImage): Promise<WrittenImage> {
  await writeFile(join(dir, 'image.json'), `${JSON.stringify(image, null, 2)}\n`);
  await pruneOthers(dir);
  return image;
}

/** Removes older builds of the same image (same name prefix, other key). */
async function pruneOthers(keep: string): Promise<void> {
  const root = imagesCacheRoot();
  const base = keep.slice(root.length + 1).replace(/-[0-9a-f]{16}$/, '');
  for (const n of await readdir(root).catch(() => [])) {
    if (n !== keep.slice(root.length + 1) && new RegExp(`^${base}-[0-9a-f]{16}$`).test(n)) await rm(join(root, n), { recursive: true, force: true });
  }
}

/** /bin/busybox's applets as symlinks, where the packages put no file of that name. */
async function busyboxLinks(rootfs: string): Promise<void> {
  const res = await run('chroot', [rootfs, '/bin/busybox', '--list-full']);
  if (res.code !== 0) throw new ClusterError(`listing busybox applets failed: ${tail(res.stderr, 2)}`);
  for (const applet of res.stdout.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const path = join(rootfs, applet);
    if (existsSync(path)) continue;
    await mkdir(dirname(path), { recursive: true });
    await symlink('/bin/busybox', path);
  }
}

async function baseFiles(rootfs: string, users: { name: string; uid: number; home: string }[]): Promise<void> {
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  await writeFile(join(rootfs, 'etc', 'passwd'), ['root:x:0:0:root:/root:/bin/sh', ...users.map((u) => `${u.name}:x:${u.uid}:${u.uid}:${u.name}:${u.home}:/bin/sh`), ''].join('\n'));
  await writeFile(join(rootfs, 'etc', 'group'), ['root:x:0:', ...users.map((u) => `${u.name}:x:${u.uid}:`), ''].join('\n'));
  await writeFile(join(rootfs, 'etc', 'nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
  await mkdir(join(rootfs, 'tmp'), { recursive: true });
  await chmod(join(rootfs, 'tmp'), 0o1777);
}

/** Fails the build when an ELF file under `dirs` needs a shared library the root file system lacks. */
async function checkLinked(rootfs: string, files: readonly string[]): Promise<void> {
  for (const f of files) {
    const res = await run('chroot', [rootfs, '/lib64/ld-linux-x86-64.so.2', '--list', f]);
    if (res.code !== 0 || /not found/.test(res.stdout)) {
      throw new ClusterError(`${f} in the image cannot load its libraries: ${tail(res.stdout + res.stderr, 5)}`);
    }
  }
}

async function debsFor(packages: readonly string[], keep: (name: string) => boolean): Promise<{ files: string[]; key: string }> {
  const dir = join(imagesCacheRoot(), 'debs');
  const debs = (await resolve(dir, packages)).filter((d) => keep(d.name));
  const files = await download(dir, debs);
  return { files, key: debs.map((d) => `${d.name}=${d.version}`).join(' ') };
}

// -- images -----------------------------------------------------------------------------------

async function buildBusybox(): Promise<{ shell: WrittenImage; pause: WrittenImage }> {
  const { files, key: debKey } = await debsFor(['busybox-static'], (n) => n === 'busybox-static');
  const key = hash([BUILDER_VERSION, debKey]);
  const shellC = await cached('shell', key);
  const pauseC = await cached('pause', key);
  if (shellC.image && pauseC.image) return { shell: shellC.image, pause: pauseC.image };
  log('building images standby.dev/shell and standby.dev/pause (busybox)');
  const rootfs = join(shellC.dir, 'rootfs');
  await rm(shellC.dir, { recursive: true, force: true });
  await unpack(files, rootfs);
  await busyboxLinks(rootfs);
  await baseFiles(rootfs, [{ name: 'nonroot', uid: NONROOT, home: '/tmp' }]);
  const env = [`PATH=${SYSTEM_PATH}`];
  const shell = await writeImage({ name: 'standby.dev/shell:1', layers: [rootfs], config: { Env: env, Cmd: ['sh'] }, outDir: shellC.dir });
  await rm(pauseC.dir, { recursive: true, force: true });
  await mkdir(pauseC.dir, { recursive: true });
  const pause = await writeImage({ name: 'standby.dev/pause:1', layers: [rootfs], config: { Env: env, Entrypoint: ['/bin/sleep', '2147483647'] }, outDir: pauseC.dir });
  await rm(rootfs, { recursive: true, force: true });
  return { shell: await finish(shellC.dir, shell), pause: await finish(pauseC.dir, pause) };
}

/** Packages of the PostgreSQL closure that the image does not need (perl tooling, JIT, PAM, docs). */
function postgresKeeps(name: string): boolean {
  if (name === `postgresql-${POSTGRES_MAJOR}` || name === `postgresql-client-${POSTGRES_MAJOR}`) return true;
  if (['busybox-static', 'zlib1g', 'tzdata', 'libc-bin'].includes(name)) return true;
  if (!name.startsWith('lib')) return false;
  return !/-perl$|^libperl|^libllvm|^libz3|^libc-l10n|^libpam-modules|^libsemanage|^libgdbm|^libdb5/.test(name);
}

async function buildPostgres(): Promise<WrittenImage> {
  const spec = postgresImageSpec();
  const entrypoint = await readFile(join(repoRoot, 'test', 'cluster', 'images', 'postgres-entrypoint.sh'));
  const { files, key: debKey } = await debsFor([`postgresql-${POSTGRES_MAJOR}`, `postgresql-client-${POSTGRES_MAJOR}`, 'busybox-static'], postgresKeeps);
  const key = hash([BUILDER_VERSION, debKey, entrypoint, JSON.stringify(spec)]);
  const c = await cached('postgres', key);
  if (c.image) return c.image;
  log(`building image ${spec.name} from ${files.length} Debian packages`);
  await rm(c.dir, { recursive: true, force: true });
  const rootfs = join(c.dir, 'rootfs');
  await unpack(files, rootfs);
  await busyboxLinks(rootfs);
  await baseFiles(rootfs, [{ name: 'postgres', uid: POSTGRES_UID, home: '/var/lib/postgresql' }]);
  for (const d of ['var/lib/postgresql/data', 'var/run/postgresql']) {
    await mkdir(join(rootfs, d), { recursive: true });
    await run('chown', [`${POSTGRES_UID}:${POSTGRES_UID}`, join(rootfs, d)]);
  }
  await mkdir(join(rootfs, 'usr', 'local', 'bin'), { recursive: true });
  await writeFile(join(rootfs, 'usr', 'local', 'bin', 'postgres-entrypoint'), entrypoint, { mode: 0o755 });
  const bin = `/usr/lib/postgresql/${POSTGRES_MAJOR}/bin`;
  const programs = (await readdir(join(rootfs, bin))).map((p) => `${bin}/${p}`);
  await checkLinked(rootfs, programs);
  const v = await run('chroot', ['--userspec', `${POSTGRES_UID}:${POSTGRES_UID}`, rootfs, `${bin}/postgres`, '--version']);
  if (v.code !== 0) throw new ClusterError(`postgres does not run in the image: ${tail(v.stderr, 3)}`);
  const image = await writeImage({ name: spec.name, layers: [rootfs], config: spec.config, outDir: c.dir });
  await rm(rootfs, { recursive: true, force: true });
  log(`  ${v.stdout.trim()}`);
  return finish(c.dir, image);
}

async function buildOperator(): Promise<WrittenImage> {
  const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const spec = operatorImageSpec(pkg.version);
  const nodeBin = join(repoRoot, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(nodeBin)) throw new ClusterError('node_modules/node/bin/node is missing: run `npm ci` first (Node 24 comes from the npm `node` package)');
  // restic for the volume mover's Jobs, as the Dockerfile copies it from Debian's package.
  const { files, key: debKey } = await debsFor(['libstdc++6', 'libgcc-s1', 'libc6', 'restic'], (n) => n !== 'gcc-12-base');
  const inputs = [
    BUILDER_VERSION, debKey, JSON.stringify(spec),
    await readFile(join(repoRoot, 'package-lock.json')), await readFile(join(repoRoot, 'tsconfig.json')), await readFile(join(repoRoot, 'tsconfig.build.json')),
    await hashTree(join(repoRoot, 'src')),
    (await run(nodeBin, ['--version'])).stdout,
  ];
  const key = hash(inputs);
  const c = await cached('operator', key);
  if (c.image) return c.image;
  log(`building image ${spec.name} (Node ${(await run(nodeBin, ['--version'])).stdout.trim()}, dist/, production node_modules)`);
  await rm(c.dir, { recursive: true, force: true });
  const rootfs = join(c.dir, 'rootfs');
  await unpack(files, rootfs);
  await baseFiles(rootfs, [{ name: 'nonroot', uid: NONROOT, home: '/home/nonroot' }]);
  // As the Dockerfile: dist/ compiled by tsc -p tsconfig.build.json, production dependencies by npm ci --omit=dev.
  const app = join(rootfs, 'app');
  await mkdir(app, { recursive: true });
  await copyFile(join(repoRoot, 'package.json'), join(app, 'package.json'));
  await copyFile(join(repoRoot, 'package-lock.json'), join(app, 'package-lock.json'));
  const npm = await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app });
  if (npm.code !== 0) throw new ClusterError(`npm ci --omit=dev for the operator image failed: ${tail(npm.stderr, 5)}`);
  await rm(join(app, 'package-lock.json'));
  const tsc = await run(nodeBin, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', join(app, 'dist')], { cwd: repoRoot });
  if (tsc.code !== 0) throw new ClusterError(`tsc -p tsconfig.build.json failed: ${tail(tsc.stdout + tsc.stderr, 5)}`);
  await mkdir(join(rootfs, 'nodejs', 'bin'), { recursive: true });
  await cp(nodeBin, join(rootfs, 'nodejs', 'bin', 'node'));
  // The npm package's binary keeps its debug info (~70 MB); the image needs none of it.
  await run('strip', ['--strip-debug', join(rootfs, 'nodejs', 'bin', 'node')]).catch(() => undefined);
  await checkLinked(rootfs, ['/nodejs/bin/node', '/usr/bin/restic']);
  // An unknown subcommand exits 2 after every module (and so every dependency) has loaded.
  const v = await run('chroot', ['--userspec', `${NONROOT}:${NONROOT}`, rootfs, '/nodejs/bin/node', '/app/dist/cli/main.js', 'image-check']);
  if (v.code !== 2 || !v.stderr.includes('unknown command')) throw new ClusterError(`the operator does not start in the image: ${tail(v.stderr + v.stdout, 5)}`);
  const image = await writeImage({ name: spec.name, layers: [rootfs], config: spec.config, outDir: c.dir });
  await rm(rootfs, { recursive: true, force: true });
  return finish(c.dir, image);
}

/** Builds (or finds in the cache) every test image. */
export async function buildImages(): Promise<ImageSet> {
  if (process.getuid?.() !== 0) throw new ClusterError('building the test images unpacks Debian packages with their owners and runs chroot: run as root');
  await mkdir(imagesCacheRoot(), { recursive: true });
  const started = Date.now();
  const { shell, pause } = await buildBusybox();
  const postgres = await buildPostgres();
  const operator = await buildOperator();
  const seconds = (Date.now() - started) / 1000;
  if (seconds > 5) log(`images ready in ${seconds.toFixed(0)}s`);
  return { operator, postgres, shell, pause };
}

if (import.meta.main) {
  runMain(async () => {
    const set = await buildImages();
    for (const img of [set.operator, set.postgres, set.shell, set.pause]) process.stdout.write(`${img.name}\t${img.pinned}\t${img.archive}\n`);
  });
}
