// Which operator the run measures. By default a clean export of one commit
// (HEAD when the run starts) into a temporary folder, so that every size of a
// run measures the same code even while the work tree changes, and the results
// name exactly that commit. `--operator-ref worktree` runs the work tree as is.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../test/cluster/common.ts';
import { log, onCleanup } from './common.ts';

export interface OperatorSource {
  /** Folder holding src/, crds/ and package.json of the operator under test. */
  root: string;
  /** The commit (short), with -dirty for a modified work tree. */
  git: string;
  ref: string;
  version: string;
  /** The default worker count in that source (CONCURRENCY unset). */
  defaultWorkers: number | null;
  /** The compiled entry point, as the container image runs it (tsc -p tsconfig.build.json). */
  main: string;
}

function git(args: string[]): string {
  return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
}

function describe(root: string): { version: string; defaultWorkers: number | null } {
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  let defaultWorkers: number | null = null;
  try {
    const m = /CONCURRENCY\s*\?\?\s*(\d+)/.exec(readFileSync(join(root, 'src/cli/run.ts'), 'utf8'));
    if (m) defaultWorkers = Number(m[1]);
  } catch {
    // unknown: the results then rely on the in-flight figures
  }
  return { version, defaultWorkers };
}

/** Compiles the operator as the Dockerfile does; the image runs JavaScript, not TypeScript stripped at start-up. */
function compile(root: string): string {
  execFileSync(join(repoRoot, 'node_modules/.bin/tsc'), ['-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
  const main = join(root, 'dist/cli/main.js');
  if (!existsSync(main)) throw new Error(`tsc did not produce ${main}`);
  return main;
}

export async function prepareOperator(ref: string): Promise<OperatorSource> {
  if (ref === 'worktree') {
    const dirty = git(['status', '--porcelain', '--untracked-files=no', '--', 'src', 'crds']) !== '';
    return { root: repoRoot, ref, git: `${git(['rev-parse', '--short=12', 'HEAD'])}${dirty ? '-dirty' : ''}`, ...describe(repoRoot), main: compile(repoRoot) };
  }
  const sha = git(['rev-parse', '--verify', `${ref}^{commit}`]);
  const short = sha.slice(0, 12);
  const root = join(tmpdir(), `standby-bench-operator-${short}-${process.pid}`);
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  onCleanup(`operator export ${root}`, () => rm(root, { recursive: true, force: true }));
  const archive = execFileSync('git', ['archive', '--format=tar', sha, 'src', 'crds', 'package.json', 'tsconfig.json', 'tsconfig.build.json'], { cwd: repoRoot, maxBuffer: 256 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', root], { input: archive });
  await symlink(join(repoRoot, 'node_modules'), join(root, 'node_modules'), 'dir');
  if (!existsSync(join(root, 'src/cli/main.ts'))) throw new Error(`commit ${short} has no src/cli/main.ts`);
  log(`operator under test: commit ${short} (${ref}), exported to ${root}`);
  return { root, ref, git: short, ...describe(root), main: compile(root) };
}
