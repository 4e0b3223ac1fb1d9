// The Dockerfile's build, replayed without Docker (CI has none): its COPY instructions from the
// build context (minus .dockerignore) into a temporary folder, its RUN commands there (npm ci,
// tsc, npm prune), the runtime stage's COPY --from=build, and then the image's ENTRYPOINT with
// --help, run by Node 24 from the pruned tree. The plugin (package.json bin) runs from it too.
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, matchesGlob, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { repoRoot, run } from '../cluster/common.ts';
import { copyArgs, execForm, parseDockerfile, type Stage } from './support/dockerfile.ts';

let work = '';
let runtime = '';
let stages: Stage[] = [];
let ignore: string[] = [];
const log: string[] = [];

/** Docker's .dockerignore: patterns relative to the context root (no negations in ours). */
function ignored(rel: string): boolean {
  return ignore.some((p) => matchesGlob(rel, p) || rel.startsWith(`${p}/`));
}

async function copyIn(from: string, to: string, base: string): Promise<void> {
  const rel = relative(base, from);
  if (rel !== '' && ignored(rel)) return;
  if ((await stat(from)).isDirectory()) {
    await mkdir(to, { recursive: true });
    for (const e of await readdir(from)) await copyIn(join(from, e), join(to, e), base);
  } else {
    await mkdir(dirname(to), { recursive: true });
    await cp(from, to);
  }
}

/** Replays one stage in `root` (standing in for the image's /), WORKDIR mapped below it. */
async function replay(stage: Stage, root: string, stageRoots: Map<string, string>): Promise<{ workdir: string; env: Record<string, string>; entrypoint: string[]; cmd: string[] }> {
  let workdir = root;
  const env: Record<string, string> = {};
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  const inRoot = (p: string, against: string) => (p.startsWith('/') ? join(against, p) : join(workdir, p));
  for (const { op, args } of stage.instructions) {
    if (op === 'WORKDIR') {
      workdir = join(root, args);
      await mkdir(workdir, { recursive: true });
    } else if (op === 'ENV') {
      const [k, v] = args.split('=', 2);
      env[k!] = v ?? '';
    } else if (op === 'COPY') {
      const c = copyArgs(args);
      const fromRoot = c.from === undefined ? undefined : stageRoots.get(c.from);
      if (c.from !== undefined && !fromRoot) throw new Error(`COPY --from=${c.from}: no such stage`);
      for (const s of c.sources) {
        const src = fromRoot ? join(fromRoot, s) : join(repoRoot, s);
        const dest = c.dest.endsWith('/') && !(await stat(src)).isDirectory() ? join(inRoot(c.dest, root), s.split('/').pop()!) : inRoot(c.dest, root);
        await copyIn(src, dest, fromRoot ?? repoRoot);
      }
    } else if (op === 'RUN') {
      const started = Date.now();
      const res = await run('sh', ['-c', args], { cwd: workdir, env: { ...process.env, ...env }, timeoutMs: 540_000 });
      log.push(`RUN ${args} -> exit ${res.code} in ${Math.round((Date.now() - started) / 1000)} s`);
      if (res.code !== 0) throw new Error(`RUN ${args} failed (exit ${res.code}): ${res.stderr.slice(-2000)}`);
    } else if (op === 'ENTRYPOINT') {
      entrypoint = execForm(args);
    } else if (op === 'CMD') {
      cmd = execForm(args);
    }
  }
  return { workdir, env, entrypoint, cmd };
}

let image: Awaited<ReturnType<typeof replay>>;

beforeAll(async () => {
  stages = parseDockerfile(await readFile(join(repoRoot, 'Dockerfile'), 'utf8'));
  ignore = (await readFile(join(repoRoot, '.dockerignore'), 'utf8'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  work = await mkdtemp(join(tmpdir(), 'standby-image-'));
  const roots = new Map<string, string>();
  const [build, final] = [stages[0]!, stages.at(-1)!];
  // build, restic (Debian's package, installed with apt-get) and the runtime.
  expect(stages.map((s) => s.name)).toEqual(['build', 'restic', undefined]);
  const buildRoot = join(work, 'build');
  await replay(build, buildRoot, roots);
  roots.set(build.name ?? '0', join(buildRoot));
  // The restic stage's apt-get is not replayed: this Debian 12 machine has the same bookworm
  // package installed (.ci/run), so its files stand in for that stage's.
  roots.set('restic', '/');
  runtime = join(work, 'runtime');
  image = await replay(final, runtime, roots);
}, 600_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the image's build steps, without Docker", () => {
  test('the build stage compiles and prunes: dist/ is there, dev dependencies are gone', async () => {
    expect(log.some((l) => l.startsWith('RUN npm ci'))).toBe(true);
    expect(log.some((l) => l.includes('npx tsc -p tsconfig.build.json') && l.includes('npm prune --omit=dev'))).toBe(true);
    const modules = await readdir(join(image.workdir, 'node_modules'));
    for (const dev of ['typescript', 'vitest', 'eslint']) expect(modules, dev).not.toContain(dev);
    for (const dep of ['zod', 'pino', 'prom-client', 'yaml']) expect(modules, dep).toContain(dep);
    await stat(join(image.workdir, 'dist/cli/main.js'));
    // Only what the Dockerfile copies, and what its commands made, is in the build.
    expect((await readdir(join(work, 'build', 'app'))).sort()).toEqual(['dist', 'node_modules', 'package-lock.json', 'package.json', 'src', 'tsconfig.build.json', 'tsconfig.json']);
    expect((await readdir(image.workdir)).sort()).toEqual(['dist', 'node_modules', 'package.json']);
    // The mover's restic, where its Jobs run it.
    expect((await stat(join(runtime, 'usr/bin/restic'))).mode & 0o111).not.toBe(0);
  });

  test("the runtime stage's ENTRYPOINT answers --help from the pruned tree (Node 24, as the image runs it)", async () => {
    expect(image.entrypoint).toEqual(['/nodejs/bin/node', 'dist/cli/main.js']);
    expect(image.cmd).toEqual(['run']);
    const [, script] = image.entrypoint;
    const res = await run(process.execPath, [script!, '--help'], { cwd: image.workdir, env: { ...image.env, PATH: process.env.PATH ?? '' } });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('Usage: standby-operator [command] [flags]');
    for (const c of ['run', 'snapshot', 'sync', 'gen-crd', 'verify-copy', 'mover', 'fence-keeper', 'remote-kubeconfig']) expect(res.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    const bad = await run(process.execPath, [script!, 'explode'], { cwd: image.workdir, env: { ...image.env, PATH: process.env.PATH ?? '' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('unknown command "explode"; commands: run, snapshot, sync, gen-crd, verify-copy, mover, fence-keeper, remote-kubeconfig (--help for more)');
  });

  // ESM loads every static import at start-up, so --help proves the whole import graph resolves.
  test("the plugin (package.json's bin) runs from the same pruned tree", async () => {
    const pkg = JSON.parse(await readFile(join(image.workdir, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const bin = join(image.workdir, pkg.bin['kubectl-standby']!);
    expect((await readFile(bin, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
    const res = await run(process.execPath, [bin, '--help'], { cwd: tmpdir(), env: { PATH: process.env.PATH ?? '' } });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('Usage: kubectl standby COMMAND [NAME] [flags]');
  });
});
