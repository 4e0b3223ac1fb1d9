// Small Go programs the tools tests run (krew; Flux's health evaluation), built from their wrapper
// modules in test/tools/go/ through the Go module proxy into a cache outside the work tree,
//   ${XDG_CACHE_HOME:-$HOME/.cache}/standby-operator/tools/<name>-<hash>
// where <hash> covers the module's files and the Go version: a second run builds nothing.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, run } from '../../cluster/common.ts';
import { requireTool } from './tools.ts';

const TOOLS = {
  krew: { module: 'krew', pkg: 'sigs.k8s.io/krew/cmd/krew' },
  fluxhealth: { module: 'fluxhealth', pkg: '.' },
} as const;

const building = new Map<string, Promise<string>>();

export function goTool(name: keyof typeof TOOLS): Promise<string> {
  let p = building.get(name);
  if (!p) {
    p = build(name);
    building.set(name, p);
  }
  return p;
}

async function build(name: keyof typeof TOOLS): Promise<string> {
  const go = requireTool('go', 'golang (or Go >= 1.26 from go.dev)');
  const { module, pkg } = TOOLS[name];
  const dir = join(repoRoot, 'test/tools/go', module);
  const hash = createHash('sha256');
  for (const f of (await readdir(dir)).sort()) hash.update(f).update(await readFile(join(dir, f)));
  hash.update((await run(go, ['version'])).stdout);
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'standby-operator', 'tools');
  const bin = join(cache, `${name}-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(bin)) return bin;
  await mkdir(cache, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  const res = await run(go, ['build', '-trimpath', '-o', tmp, pkg], { cwd: dir, env: { ...process.env, GOFLAGS: '-mod=readonly' }, timeoutMs: 1_200_000 });
  if (res.code !== 0) {
    await rm(tmp, { force: true });
    throw new Error(`building ${name} (go build in test/tools/go/${module}) failed: ${res.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  }
  await rename(tmp, bin);
  return bin;
}
