// Builds the krew archive of kubectl-standby and writes its manifest (integrations/krew/standby.yaml):
//
//   npm run plugin:pack [-- --out DIR] [-- --check]
//
// The archive holds the launcher (kubectl-standby.sh as kubectl-standby) and lib/: package.json,
// the compiled dist/ and the production node_modules, built as the Dockerfile builds the image
// (npm ci, tsc, npm prune) in a temporary copy. It is reproducible (sorted entries, fixed times,
// owners and modes, gzip without a timestamp), so --check can tell whether the committed
// manifest's sha256 is still that of the archive this tree builds.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MANIFEST = join(repo, 'integrations/krew/standby.yaml');

function sh(cmd: string, cwd: string): void {
  const res = spawnSync('sh', ['-c', cmd], { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  if (res.status !== 0) throw new Error(`${cmd} failed (exit ${res.status ?? 'signal'}) in ${cwd}`);
}

export function manifest(version: string, sha256: string): string {
  return `# The krew manifest of kubectl-standby, written by \`npm run plugin:pack\` (integrations/krew/pack.ts)
# with the sha256 of the archive this tree builds; \`npm run plugin:pack -- --check\` says whether it is current.
# Install from a built archive: kubectl krew install --manifest=integrations/krew/standby.yaml --archive=<archive>
apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: standby
spec:
  version: v${version}
  homepage: https://github.com/standby-operator/standby-operator
  shortDescription: See and drive StandbySites of standby-operator
  description: |
    Shows the disaster-recovery StandbySites of standby-operator (tier, which side serves,
    data age against the RPO target, conditions, the promotion timeline) and drives them:
    promote, failback, reprotect and drill write the operator's annotation with a fresh token
    and wait until the operator acted, then print the outcome.
  caveats: |
    kubectl standby runs on Node.js: it needs Node.js 24 or later on PATH.
  platforms:
    - selector:
        matchExpressions:
          - key: os
            operator: In
            values: [linux, darwin]
      uri: https://github.com/standby-operator/standby-operator/releases/download/v${version}/kubectl-standby-v${version}.tar.gz
      sha256: ${sha256}
      bin: kubectl-standby
`;
}

/** Builds the archive into `outDir`; returns its path and sha256. */
export async function pack(outDir: string): Promise<{ archive: string; sha256: string; version: string }> {
  const { version } = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { version: string };
  const work = await mkdtemp(join(tmpdir(), 'standby-krew-'));
  try {
    const build = join(work, 'build');
    await mkdir(build);
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src']) await cp(join(repo, f), join(build, f), { recursive: true });
    sh('npm ci --no-audit --no-fund --ignore-scripts && npx tsc -p tsconfig.build.json && npm prune --omit=dev --no-audit --no-fund --ignore-scripts', build);
    const stage = join(work, 'stage');
    await mkdir(join(stage, 'lib'), { recursive: true });
    await cp(join(repo, 'integrations/krew/kubectl-standby.sh'), join(stage, 'kubectl-standby'));
    for (const f of ['package.json', 'dist', 'node_modules']) await cp(join(build, f), join(stage, 'lib', f), { recursive: true, verbatimSymlinks: true });
    // npm's own bookkeeping and the dependencies' command links, not the plugin's.
    await rm(join(stage, 'lib/node_modules/.package-lock.json'), { force: true });
    await rm(join(stage, 'lib/node_modules/.bin'), { recursive: true, force: true });
    await mkdir(outDir, { recursive: true });
    const archive = join(outDir, `kubectl-standby-v${version}.tar.gz`);
    sh(
      `tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --mode='u+rwX,go+rX,go-w' -cf - -C '${stage}' . | gzip -n -9 > '${archive}'`,
      work,
    );
    const sha256 = createHash('sha256').update(await readFile(archive)).digest('hex');
    return { archive, sha256, version };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, check: { type: 'boolean' } } });
  const out = resolve(values.out ?? join(repo, 'dist', 'krew'));
  const { archive, sha256, version } = await pack(out);
  const wanted = manifest(version, sha256);
  if (values.check) {
    const current = await readFile(MANIFEST, 'utf8').catch(() => '');
    if (current !== wanted) {
      console.error(`${MANIFEST} is stale (the archive's sha256 is ${sha256}): run npm run plugin:pack and commit it`);
      process.exitCode = 1;
    } else {
      console.log(`${MANIFEST} is current (${sha256})`);
    }
  } else {
    await writeFile(MANIFEST, wanted);
    console.log(`${archive}\nsha256 ${sha256}\nwrote ${MANIFEST}`);
  }
}
