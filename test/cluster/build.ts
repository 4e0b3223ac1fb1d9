// Builds the test control plane's binaries (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, kubectl, kwok, helm) from the Go wrapper modules in test/cluster/go/ into a
// cache outside the work tree:
//
//   ${XDG_CACHE_HOME:-$HOME/.cache}/standby-operator/cluster/<hash>/bin
//
// <hash> covers every wrapper's go.mod and go.sum, the Go toolchain version and the build
// parameters below, so a second run with nothing changed builds nothing.
//
//   npm run cluster:build
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawn } from 'node:child_process';
import { ClusterError, goModulesDir, isAlive, isNotFound, log, run, runMain, sleep, tail } from './common.ts';

/** The binaries the control plane and the tests use. */
export interface Binaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  kwok: string;
  helm: string;
}

/** The binaries of a real node (`--real-nodes`): built only when asked for. */
export interface NodeBinaries {
  kubelet: string;
  kubeProxy: string;
  coredns: string;
  kubeRouter: string;
}

export interface BuildResult {
  binDir: string;
  bin: Binaries;
  /** Set when the build was asked for the real nodes' binaries. */
  nodeBin?: NodeBinaries;
  /** Whether this call reused a complete cache entry (built nothing). */
  reused: boolean;
  /** The `v1.x.y` that the Kubernetes binaries report. */
  kubernetesVersion: string;
}

export interface Target {
  /** `node`: only the real nodes need it, built when asked for (`--real-nodes`). Default: `control-plane`. */
  set?: 'control-plane' | 'node';
  /** Wrapper module folder under test/cluster/go/. */
  module: string;
  /** Main packages built from it (one `go build` per target). */
  packages: string[];
  /** The module whose version is stamped into the binaries, read from the wrapper's go.mod. */
  versionOf: string;
  /** Linker -X assignments; `{version}`, `{major}` and `{minor}` are substituted. */
  stamp: string[];
}

const KUBERNETES_STAMP = [
  'k8s.io/component-base/version.gitVersion={version}',
  'k8s.io/component-base/version.gitMajor={major}',
  'k8s.io/component-base/version.gitMinor={minor}',
  'k8s.io/component-base/version.gitTreeState=clean',
  'k8s.io/client-go/pkg/version.gitVersion={version}',
  'k8s.io/client-go/pkg/version.gitMajor={major}',
  'k8s.io/client-go/pkg/version.gitMinor={minor}',
  'k8s.io/client-go/pkg/version.gitTreeState=clean',
];

// Changing anything here changes the cache key.
const TARGETS: readonly Target[] = [
  {
    set: 'control-plane',
    module: 'etcd',
    packages: ['go.etcd.io/etcd/server/v3'],
    versionOf: 'go.etcd.io/etcd/server/v3',
    stamp: [],
  },
  {
    set: 'control-plane',
    module: 'kubernetes',
    packages: [
      'k8s.io/kubernetes/cmd/kube-apiserver',
      'k8s.io/kubernetes/cmd/kube-controller-manager',
      'k8s.io/kubernetes/cmd/kube-scheduler',
      'k8s.io/kubernetes/cmd/kubectl',
    ],
    versionOf: 'k8s.io/kubernetes',
    stamp: KUBERNETES_STAMP,
  },
  {
    set: 'control-plane',
    module: 'kwok',
    packages: ['sigs.k8s.io/kwok/cmd/kwok'],
    versionOf: 'sigs.k8s.io/kwok',
    stamp: [],
  },
  {
    set: 'control-plane',
    module: 'helm',
    packages: ['helm.sh/helm/v4/cmd/helm'],
    versionOf: 'helm.sh/helm/v4',
    stamp: ['helm.sh/helm/v4/internal/version.version={version}'],
  },
  {
    set: 'node',
    module: 'kubernetes',
    packages: ['k8s.io/kubernetes/cmd/kubelet', 'k8s.io/kubernetes/cmd/kube-proxy'],
    versionOf: 'k8s.io/kubernetes',
    stamp: KUBERNETES_STAMP,
  },
  {
    set: 'node',
    module: 'coredns',
    packages: ['standby-operator/test/cluster/go/coredns'],
    versionOf: 'github.com/coredns/coredns',
    stamp: ['github.com/coredns/coredns/coremain.GitCommit=v{version}'],
  },
  {
    set: 'node',
    module: 'kube-router',
    packages: ['github.com/cloudnativelabs/kube-router/v2/cmd/kube-router'],
    versionOf: 'github.com/cloudnativelabs/kube-router/v2',
    stamp: ['github.com/cloudnativelabs/kube-router/v2/pkg/version.Version={version}'],
  },
];

/** Modules that are only downloaded (their files are read at run time), never built. */
const DOWNLOAD_ONLY: readonly { module: string; path: string }[] = [
  { module: 'snapshotter', path: 'github.com/kubernetes-csi/external-snapshotter/client/v8' },
  { module: 'kwok', path: 'sigs.k8s.io/kwok' },
];

const GO_BUILD_FLAGS = ['-trimpath'];
const LINKER_FLAGS = '-s -w';
const GO_ENV = { GOFLAGS: '-mod=mod', CGO_ENABLED: '0' };
const MANIFEST = 'manifest.json';
const NODE_MANIFEST = 'manifest-node.json';
/** Touched whenever an entry is used; entries unused for longer are pruned (other branches may use them). */
const LAST_USED = 'last-used';
const PRUNE_AFTER_MS = 3 * 24 * 3600_000;

/**
 * A set of binaries built from wrapper modules and cached together under its own folder, with
 * its own key: the control plane and the real nodes (`cluster`), the S3 server (`s3`, see s3.ts).
 * Keeping them apart means building one never invalidates, or prunes, the other.
 */
export interface Toolset<B> {
  /** Folder under ${XDG_CACHE_HOME:-$HOME/.cache}/standby-operator/. */
  name: string;
  targets: readonly Target[];
  downloadOnly: readonly { module: string; path: string }[];
  /** The binaries' paths in a bin folder. */
  binaries: (binDir: string) => B;
}

const CLUSTER: Toolset<Binaries> = { name: 'cluster', targets: TARGETS, downloadOnly: DOWNLOAD_ONLY, binaries: binariesIn };

/** ${XDG_CACHE_HOME:-$HOME/.cache}/standby-operator/<toolset> */
export function cacheRoot(toolset = 'cluster'): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'standby-operator', toolset);
}

const setOf = (t: Target): 'control-plane' | 'node' => t.set ?? 'control-plane';

function goEnv(): NodeJS.ProcessEnv {
  return { ...process.env, ...GO_ENV };
}

/** `go version`, or a ClusterError that says how to get Go. */
export async function goVersion(): Promise<string> {
  let res;
  try {
    res = await run('go', ['version'], { env: goEnv() });
  } catch (err) {
    if (isNotFound(err)) {
      throw new ClusterError(
        'the Go toolchain (`go`) is not on PATH: install Go 1.26 or newer (https://go.dev/dl/ or your package manager), then run `npm run cluster:build` again',
      );
    }
    throw err;
  }
  const m = /go(\d+)\.(\d+)/.exec(res.stdout);
  if (res.code !== 0 || !m) {
    throw new ClusterError(`\`go version\` failed (${res.stderr.trim() || res.stdout.trim()}): fix the Go installation on PATH, then try again`);
  }
  if (Number(m[1]) < 1 || (Number(m[1]) === 1 && Number(m[2]) < 26)) {
    throw new ClusterError(`${res.stdout.trim()} is too old: the wrapper modules need Go 1.26 or newer; install it and run \`npm run cluster:build\` again`);
  }
  return res.stdout.trim();
}

/** The version that a wrapper's go.mod requires for a module. */
async function requiredVersion(module: string, modulePath: string): Promise<string> {
  const gomod = await readFile(join(goModulesDir, module, 'go.mod'), 'utf8');
  const escaped = modulePath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, 'm').exec(gomod);
  if (!m?.[1]) throw new ClusterError(`test/cluster/go/${module}/go.mod does not require ${modulePath}: restore it from git`);
  return m[1];
}

function ldflags(stamp: readonly string[], version: string): string[] {
  const m = /^v(\d+)\.(\d+)/.exec(version);
  const major = m?.[1] ?? '';
  const minor = m?.[2] ?? '';
  const xs = stamp.map((s) => `-X ${s.replaceAll('{version}', version).replaceAll('{major}', major).replaceAll('{minor}', minor)}`);
  return [`-ldflags=${[LINKER_FLAGS, ...xs].join(' ')}`];
}

async function cacheKey<B>(ts: Toolset<B>, go: string): Promise<string> {
  const h = createHash('sha256');
  const modules = new Set([...ts.targets.map((t) => t.module), ...ts.downloadOnly.map((d) => d.module)]);
  for (const module of [...modules].sort()) {
    for (const file of ['go.mod', 'go.sum']) {
      h.update(`${module}/${file}\0`);
      h.update(await readFile(join(goModulesDir, module, file)));
      h.update('\0');
    }
  }
  // The property names are part of the key: unchanged, an existing control plane cache stays valid.
  h.update(JSON.stringify({ TARGETS: ts.targets, DOWNLOAD_ONLY: ts.downloadOnly, GO_BUILD_FLAGS, LINKER_FLAGS, GO_ENV, go, platform: process.platform, arch: process.arch }));
  return h.digest('hex').slice(0, 16);
}

function binariesIn(binDir: string): Binaries {
  return {
    etcd: join(binDir, 'etcd'),
    kubeApiserver: join(binDir, 'kube-apiserver'),
    kubeControllerManager: join(binDir, 'kube-controller-manager'),
    kubeScheduler: join(binDir, 'kube-scheduler'),
    kubectl: join(binDir, 'kubectl'),
    kwok: join(binDir, 'kwok'),
    helm: join(binDir, 'helm'),
  };
}

function nodeBinariesIn(binDir: string): NodeBinaries {
  return { kubelet: join(binDir, 'kubelet'), kubeProxy: join(binDir, 'kube-proxy'), coredns: join(binDir, 'coredns'), kubeRouter: join(binDir, 'kube-router') };
}

/** Output name of a main package: its last path element, or `etcd` for the etcd server module. */
function binName(pkg: string): string {
  if (pkg.startsWith('go.etcd.io/etcd/server')) return 'etcd';
  return pkg.slice(pkg.lastIndexOf('/') + 1);
}

/** Runs a command with its output appended to the build log; resolves to its exit code. */
function runLogged(cmd: string, args: string[], cwd: string, logFile: string): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const out = createWriteStream(logFile, { flags: 'a' });
    out.on('open', () => {
      const child = spawn(cmd, args, { cwd, env: goEnv(), stdio: ['ignore', out, out] });
      child.on('error', (err) => { out.end(); reject(err); });
      child.on('close', (code) => { out.end(() => { resolvePromise(code ?? 1); }); });
    });
    out.on('error', reject);
  });
}

export interface BuildOptions {
  /** Print progress (default true). */
  verbose?: boolean;
  /** Also build the real nodes' binaries: kubelet, kube-proxy, coredns. */
  nodes?: boolean;
}

/**
 * Builds every binary unless the cache entry for the current inputs is complete. Throws a
 * ClusterError with a one-line, actionable message on failure.
 */
export async function buildBinaries(opts: BuildOptions = {}): Promise<BuildResult> {
  const say = opts.verbose === false ? () => undefined : log;
  const go = await goVersion();
  const key = await cacheKey(CLUSTER, go);
  const dir = join(cacheRoot(CLUSTER.name), key);
  const binDir = join(dir, 'bin');
  const bin = binariesIn(binDir);
  const nodeBin = nodeBinariesIn(binDir);
  const kubernetesVersion = await requiredVersion('kubernetes', 'k8s.io/kubernetes');
  const result = (reused: boolean): BuildResult => ({ binDir, bin, ...(opts.nodes === true ? { nodeBin } : {}), reused, kubernetesVersion });

  const has = (manifest: string, files: object): boolean => existsSync(join(dir, manifest)) && Object.values<string>({ ...files }).every((p) => existsSync(p));
  const complete = (): boolean => has(MANIFEST, bin) && (opts.nodes !== true || has(NODE_MANIFEST, nodeBin));
  if (complete()) {
    say(`reusing cached binaries in ${binDir} (nothing to build)`);
    await touch(dir);
    return result(true);
  }
  return withLock(`${dir}.lock`, say, async () => {
    if (complete()) { // built by the process we waited for
      say(`reusing cached binaries in ${binDir} (built by another process)`);
      return result(true);
    }
    if (!has(MANIFEST, bin)) await build(CLUSTER, dir, go, key, 'control-plane', MANIFEST, bin, say);
    if (opts.nodes === true && !has(NODE_MANIFEST, nodeBin)) await build(CLUSTER, dir, go, key, 'node', NODE_MANIFEST, nodeBin, say);
    await touch(dir);
    await pruneOldEntries(CLUSTER.name, key, say);
    return result(false);
  });
}

/** Builds a toolset other than the cluster's unless its cache entry for the current inputs is complete. */
export async function buildToolset<B extends object>(ts: Toolset<B>, opts: BuildOptions = {}): Promise<{ binDir: string; bin: B; reused: boolean }> {
  const say = opts.verbose === false ? () => undefined : log;
  const go = await goVersion();
  const key = await cacheKey(ts, go);
  const dir = join(cacheRoot(ts.name), key);
  const binDir = join(dir, 'bin');
  const bin = ts.binaries(binDir);
  const complete = (): boolean => existsSync(join(dir, MANIFEST)) && Object.values(bin).every((p) => typeof p === 'string' && existsSync(p));
  if (complete()) {
    say(`reusing cached binaries in ${binDir} (nothing to build)`);
    await touch(dir);
    return { binDir, bin, reused: true };
  }
  return withLock(`${dir}.lock`, say, async () => {
    if (complete()) {
      say(`reusing cached binaries in ${binDir} (built by another process)`);
      return { binDir, bin, reused: true };
    }
    await build(ts, dir, go, key, 'control-plane', MANIFEST, bin, say);
    await touch(dir);
    await pruneOldEntries(ts.name, key, say);
    return { binDir, bin, reused: false };
  });
}

async function touch(dir: string): Promise<void> {
  await writeFile(join(dir, LAST_USED), new Date().toISOString()).catch(() => undefined);
}

/** Runs `fn` holding a lock folder, so that concurrent runs do not build into one folder at once. */
export async function withLock<T>(lockDir: string, say: (m: string) => void, fn: () => Promise<T>): Promise<T> {
  await mkdir(dirname(lockDir), { recursive: true });
  let told = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'EEXIST') throw err;
      const pid = Number(await readFile(join(lockDir, 'pid'), 'utf8').catch(() => ''));
      const age = Date.now() - (await stat(lockDir).catch(() => ({ mtimeMs: 0 }))).mtimeMs;
      if ((pid > 0 && !isAlive(pid)) || (!(pid > 0) && age > 30_000)) {
        await rm(lockDir, { recursive: true, force: true }); // left by a build that died
        continue;
      }
      if (!told) say(`waiting for another build (pid ${pid > 0 ? pid : '?'}) to finish`);
      told = true;
      await sleep(2_000);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

async function build<B>(
  ts: Toolset<B>,
  dir: string,
  go: string,
  key: string,
  set: 'control-plane' | 'node',
  manifest: string,
  files: object,
  say: (m: string) => void,
): Promise<void> {
  const binDir = join(dir, 'bin');
  await mkdir(binDir, { recursive: true });
  const logFile = join(dir, set === 'node' ? 'build-node.log' : 'build.log');
  await writeFile(logFile, `# ${go}\n# cache key ${key}\n`);
  const parallel = String(Math.max(1, availableParallelism()));
  const started = Date.now();
  const what = ts.name !== 'cluster' ? ts.name : set === 'node' ? "real nodes'" : 'control plane';
  say(`building the ${what} binaries into ${binDir} (cold builds take a while; log: ${logFile})`);

  if (set === 'control-plane') {
    for (const { module, path } of ts.downloadOnly) {
      const cwd = join(goModulesDir, module);
      await appendFile(logFile, `\n$ (cd ${cwd} && go mod download ${path})\n`);
      const code = await runLogged('go', ['mod', 'download', path], cwd, logFile);
      if (code !== 0) throw await buildFailure(`go mod download ${path} (test/cluster/go/${module})`, logFile);
    }
  }

  for (const t of ts.targets.filter((x) => setOf(x) === set)) {
    const cwd = join(goModulesDir, t.module);
    const version = await requiredVersion(t.module, t.versionOf);
    const outputs = t.packages.map(binName);
    const out = t.packages.length === 1 ? join(binDir, outputs[0] ?? '') : `${binDir}/`;
    const args = ['build', `-p=${parallel}`, ...GO_BUILD_FLAGS, ...ldflags(t.stamp, version), '-o', out, ...t.packages];
    const t0 = Date.now();
    say(`  go build ${outputs.join(', ')} (${t.versionOf} ${version})`);
    await appendFile(logFile, `\n$ (cd ${cwd} && GOFLAGS=${GO_ENV.GOFLAGS} CGO_ENABLED=${GO_ENV.CGO_ENABLED} go ${args.join(' ')})\n`);
    const code = await runLogged('go', args, cwd, logFile);
    if (code !== 0) throw await buildFailure(`go build of ${outputs.join(', ')}`, logFile);
    await appendFile(logFile, `# done in ${((Date.now() - t0) / 1000).toFixed(0)}s\n`);
  }

  const seconds = Math.round((Date.now() - started) / 1000);
  await writeFile(join(dir, manifest), `${JSON.stringify({ key, go, set, builtAt: new Date().toISOString(), buildSeconds: seconds, bin: files }, null, 2)}\n`);
  say(`built in ${seconds}s`);
}

/** Prints the end of the build log and returns the one-line error to throw. */
async function buildFailure(what: string, logFile: string): Promise<ClusterError> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  process.stderr.write(`--- last lines of ${logFile} ---\n${tail(text, 25)}\n---\n`);
  return new ClusterError(`${what} failed (last lines above, full log: ${logFile}); fix the cause (network to the Go module proxy? disk space? a changed go.mod?) and run \`npm run cluster:build\` again`);
}

/**
 * Removes cache entries of other keys that nothing used for PRUNE_AFTER_MS: each holds ~0.5 GB
 * of binaries, but a branch with other wrapper modules (or a control plane still running from
 * one) may use an entry for a while, so recent ones stay.
 */
async function pruneOldEntries(toolset: string, keep: string, say: (m: string) => void): Promise<void> {
  const root = cacheRoot(toolset);
  for (const name of await readdir(root).catch(() => [])) {
    if (name === keep || !/^[0-9a-f]{16}$/.test(name)) continue;
    const used = await stat(join(root, name, LAST_USED)).catch(() => stat(join(root, name)).catch(() => undefined));
    if (used && Date.now() - used.mtimeMs < PRUNE_AFTER_MS) continue;
    say(`removing stale cache entry ${join(root, name)}`);
    await rm(join(root, name), { recursive: true, force: true });
  }
}

/**
 * The folder of a module in the Go module cache, at the version a wrapper module pins
 * (downloaded if needed). Stage files and CRDs are read from here at run time.
 */
export async function moduleDir(wrapper: string, modulePath: string): Promise<string> {
  const res = await run('go', ['mod', 'download', '-json', modulePath], { cwd: join(goModulesDir, wrapper), env: goEnv() });
  let info: { Dir?: string; Error?: string } = {};
  try {
    info = JSON.parse(res.stdout) as { Dir?: string; Error?: string };
  } catch {
    // not JSON: reported below
  }
  if (res.code !== 0 || info.Dir === undefined || info.Dir === '') {
    const why = info.Error ?? (res.stderr.trim().split('\n').pop() ?? 'unknown error');
    throw new ClusterError(`cannot download ${modulePath} (pinned in test/cluster/go/${wrapper}): ${why}; check access to the Go module proxy and try again`);
  }
  return info.Dir;
}

if (import.meta.main) {
  runMain(async () => {
    const res = await buildBinaries({ nodes: process.argv.includes('--real-nodes') });
    process.stdout.write(`${res.binDir}\n`);
  });
}
