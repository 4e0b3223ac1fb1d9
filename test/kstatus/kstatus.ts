// The kstatus verdict on an object, from the real rules of sigs.k8s.io/cli-utils: the Go
// program in this folder, built with the Go toolchain (like the control plane binaries) into
// a cache outside the work tree and reused while its inputs do not change:
//
//   ${XDG_CACHE_HOME:-$HOME/.cache}/standby-operator/kstatus/<hash>/kstatus
//
// <hash> covers go.mod, go.sum, main.go, the Go version and the build flags.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cacheRoot, goVersion, withLock } from '../cluster/build.ts';
import { ClusterError, log, repoRoot, run, tail } from '../cluster/common.ts';

/** What kstatus says about an object (status.Status of cli-utils, and its message). */
export interface KstatusVerdict {
  status: 'InProgress' | 'Failed' | 'Current' | 'Terminating' | 'NotFound' | 'Unknown';
  message: string;
}

const SOURCE_DIR = join(repoRoot, 'test', 'kstatus');
const SOURCES = ['go.mod', 'go.sum', 'main.go'];
const BUILD_ENV = { GOFLAGS: '-mod=mod', CGO_ENABLED: '0' };
const BUILD_FLAGS = ['-trimpath', '-ldflags=-s -w'];

async function cacheKey(go: string): Promise<string> {
  const h = createHash('sha256');
  for (const file of SOURCES) h.update(`${file}\0`).update(await readFile(join(SOURCE_DIR, file))).update('\0');
  h.update(JSON.stringify({ go, BUILD_ENV, BUILD_FLAGS, platform: process.platform, arch: process.arch }));
  return h.digest('hex').slice(0, 16);
}

async function build(): Promise<string> {
  const go = await goVersion();
  const dir = join(dirname(cacheRoot()), 'kstatus', await cacheKey(go));
  const bin = join(dir, 'kstatus');
  if (existsSync(bin)) return bin;
  return withLock(`${dir}.lock`, log, async () => {
    if (existsSync(bin)) return bin; // built by the process we waited for
    await mkdir(dir, { recursive: true });
    const partial = `${bin}.partial`;
    log(`building the kstatus checker (sigs.k8s.io/cli-utils) into ${dir}`);
    const res = await run('go', ['build', ...BUILD_FLAGS, '-o', partial, '.'], {
      cwd: SOURCE_DIR,
      env: { ...process.env, ...BUILD_ENV },
      timeoutMs: 600_000,
    });
    if (res.code !== 0) {
      await rm(partial, { force: true });
      throw new ClusterError(`go build of test/kstatus failed: ${tail(res.stderr, 15)}; check access to the Go module proxy and try again`);
    }
    await rename(partial, bin); // whole or not at all: a killed build leaves no half binary in the cache
    return bin;
  });
}

let binary: Promise<string> | undefined;

/** Builds the checker unless it is cached; the first call of a run may take a minute. */
export function kstatusBinary(): Promise<string> {
  binary ??= build();
  return binary;
}

/** kstatus' verdict on an object such as a StandbySite (as JSON text, or as an object). */
export async function kstatusOf(obj: unknown): Promise<KstatusVerdict> {
  const res = await run(await kstatusBinary(), [], { input: typeof obj === 'string' ? obj : JSON.stringify(obj), timeoutMs: 30_000 });
  if (res.code !== 0) throw new Error(`kstatus failed (exit ${res.code}): ${res.stderr.trim()}`);
  return JSON.parse(res.stdout) as KstatusVerdict;
}
