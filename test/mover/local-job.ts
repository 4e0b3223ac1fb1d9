// Runs a mover Job's container locally, as a kubelet would but without one: the container's
// arguments from the built Job, its mount paths mapped to real folders, its secretKeyRef
// variables resolved from the given Secrets, and the operator's own `mover` subcommand as the
// entrypoint. So the tests exercise the Job exactly as built, against real restic and S3.
import type { V1Job } from '@kubernetes/client-node';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot, run, type RunResult } from '../cluster/common.ts';

export interface LocalJobRun extends RunResult {
  /** What the container wrote as its termination message. */
  result: Record<string, unknown> | undefined;
}

export async function runJobLocally(
  job: V1Job,
  mounts: Record<string, string>,
  secrets: Record<string, Record<string, string>>,
): Promise<LocalJobRun> {
  const container = job.spec?.template.spec?.containers[0];
  if (!container?.args) throw new Error('the Job has no container arguments');
  const mapPath = (value: string): string => {
    for (const [mountPath, hostPath] of Object.entries(mounts)) {
      if (value === mountPath || value.startsWith(`${mountPath}/`)) return hostPath + value.slice(mountPath.length);
    }
    return value;
  };
  // Arguments are `--name=value`: map the value's container path to the host path.
  const args = container.args.map((a) => {
    const eq = a.indexOf('=');
    return eq < 0 ? mapPath(a) : `${a.slice(0, eq + 1)}${mapPath(a.slice(eq + 1))}`;
  });
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  for (const e of container.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (ref) {
      const v = ref.name === undefined ? undefined : secrets[ref.name]?.[ref.key];
      if (v === undefined) throw new Error(`the Job reads Secret ${ref.name} key ${ref.key}, which the test did not provide`);
      env[e.name] = v;
    } else {
      env[e.name] = e.value === undefined ? undefined : mapPath(e.value);
    }
  }
  const res = await run(process.execPath, [join(repoRoot, 'src', 'cli', 'main.ts'), ...args], { env, timeoutMs: 300_000 });
  const resultArg = args.find((a) => a.startsWith('--result-file='));
  let result: Record<string, unknown> | undefined;
  if (resultArg !== undefined) {
    const text = await readFile(resultArg.slice('--result-file='.length), 'utf8').catch(() => '');
    result = text === '' ? undefined : JSON.parse(text) as Record<string, unknown>;
  }
  return { ...res, result };
}
