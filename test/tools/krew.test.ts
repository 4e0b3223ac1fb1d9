// The plugin's krew packaging with the real krew (built from the Go module proxy): the archive
// `npm run plugin:pack` builds installs with the repository's manifest, and the installed
// `kubectl-standby` runs under Node 24 and refuses an older Node in one line.
import { chmod, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { run } from '../cluster/common.ts';
import { MANIFEST, manifest, pack } from '../../integrations/krew/pack.ts';
import { goTool } from './support/go-tools.ts';

let work = '';
let archive = '';
let sha256 = '';
let version = '';
let krew = '';

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'standby-krew-test-'));
  [krew, { archive, sha256, version }] = await Promise.all([goTool('krew'), pack(join(work, 'out'))]);
}, 1_500_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function install(manifestText: string, root: string) {
  const file = join(work, `manifest-${Date.now()}.yaml`);
  await writeFile(file, manifestText);
  return run(krew, ['install', `--manifest=${file}`, `--archive=${archive}`], { env: { ...process.env, KREW_ROOT: root }, timeoutMs: 120_000 });
}

describe('the krew manifest', () => {
  test("the repository's manifest is what pack writes, but for its sha256 (written at release)", async () => {
    const committed = await readFile(MANIFEST, 'utf8');
    const sha = /^\s+sha256: ([0-9a-f]{64})$/m.exec(committed)?.[1];
    expect(sha).toBeDefined();
    expect(committed).toBe(manifest(version, sha!));
  });

  test('krew installs the archive with it, and kubectl-standby runs from krew\'s bin', async () => {
    const root = join(work, 'krew-root');
    const res = await install(manifest(version, sha256), root);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain('Installed plugin: standby');
    const link = join(root, 'bin', 'kubectl-standby');
    expect(await readlink(link)).toBe(join(root, 'store', 'standby', `v${version}`, 'kubectl-standby'));
    // Node 24 (the tests' own) first on PATH, as the caveat asks.
    const env = { PATH: `${dirname(process.execPath)}:/usr/bin:/bin` };
    const help = await run(link, ['--help'], { env });
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage: kubectl standby COMMAND [NAME] [flags]');
    const noSite = await run(link, ['status'], { env });
    expect(noSite.code).toBe(2);

    // An older Node: one line, and no stack trace.
    const fakeBin = join(work, 'old-node');
    await mkdir(fakeBin, { recursive: true });
    await writeFile(join(fakeBin, 'node'), '#!/bin/sh\necho v20.20.2\n');
    await chmod(join(fakeBin, 'node'), 0o755);
    const old = await run(link, ['--help'], { env: { PATH: `${fakeBin}:/usr/bin:/bin` } });
    expect(old.code).toBe(1);
    expect(old.stderr).toBe('error: kubectl standby needs Node.js 24 or later on PATH (found v20.20.2)\n');
  });

  test('krew checks the archive against the manifest: a wrong sha256 is refused', async () => {
    const res = await install(manifest(version, '0'.repeat(64)), join(work, 'krew-root-wrong'));
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/checksum does not match|sha256/i);
  });
});
