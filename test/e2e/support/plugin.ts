// Runs the kubectl-standby plugin as a user would: a separate process with a kubeconfig.
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { repoRoot, run, type RunResult } from '../../cluster/common.ts';
import { clusterInfo } from '../../cluster/helpers.ts';

export const PLUGIN = join(repoRoot, 'src/plugin/main.ts');

/** `kubectl-standby ARGS` with the test control plane's kubeconfig (unless ARGS name another). */
export function plugin(args: readonly string[], opts: { kubeconfig?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  const kubeconfig = args.includes('--kubeconfig') ? [] : ['--kubeconfig', opts.kubeconfig ?? clusterInfo().kubeconfig];
  return run(process.execPath, [PLUGIN, ...args, ...kubeconfig], { env: { ...process.env, ...opts.env }, timeoutMs: opts.timeoutMs ?? 120_000 });
}

interface Kubeconfig {
  'current-context'?: string;
  contexts: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
  users: { name: string; user: Record<string, unknown> }[];
  clusters: unknown[];
}

/**
 * A copy of the test kubeconfig with one more context: `namespace` as its namespace and, with
 * `as`, a user that impersonates that identity (as kubectl's --as would).
 */
export async function kubeconfigWith(file: string, ctx: { name: string; namespace?: string; as?: { user: string; groups?: string[] } }): Promise<string> {
  const doc = parse(await readFile(clusterInfo().kubeconfig, 'utf8')) as Kubeconfig;
  const base = doc.contexts.find((c) => c.name === doc['current-context'])!.context;
  let user = base.user;
  if (ctx.as) {
    const admin = doc.users.find((u) => u.name === base.user)!.user;
    user = `${ctx.name}-user`;
    doc.users.push({ name: user, user: { ...admin, as: ctx.as.user, ...(ctx.as.groups ? { 'as-groups': ctx.as.groups } : {}) } });
  }
  doc.contexts.push({ name: ctx.name, context: { cluster: base.cluster, user, ...(ctx.namespace ? { namespace: ctx.namespace } : {}) } });
  await writeFile(file, stringify(doc), { mode: 0o600 });
  return file;
}

const SAMPLES = join(repoRoot, '.cluster', 'e2e-logs', 'plugin-samples.txt');

/** Keeps a command's real output for the README (.cluster/e2e-logs/plugin-samples.txt). */
export async function keepSample(command: string, res: RunResult): Promise<void> {
  await mkdir(join(SAMPLES, '..'), { recursive: true });
  await appendFile(SAMPLES, `$ ${command}\n${res.stdout}${res.stderr ? `[stderr]\n${res.stderr}` : ''}[exit ${res.code}]\n\n`);
}

export async function resetSamples(): Promise<void> {
  await mkdir(join(SAMPLES, '..'), { recursive: true });
  await writeFile(SAMPLES, `# kubectl standby, as run by test/e2e/plugin.test.ts on ${new Date().toISOString()}\n\n`);
}
