// `helm template` of the chart with the helm built with the test control plane, in a helm home
// of its own (nothing from the user's helm setup), parsed into objects.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { clusterInfo } from '../../cluster/helpers.ts';
import { repoRoot, run } from '../../cluster/common.ts';

export interface ChartObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

let home: Promise<string> | undefined;

/** The chart's objects for a release in a namespace, with extra `helm template` arguments (e.g. --set). */
export async function renderChart(release: string, namespace: string, args: readonly string[] = []): Promise<ChartObject[]> {
  home ??= mkdtemp(join(tmpdir(), 'standby-helm-'));
  const h = await home;
  const env = { ...process.env, HELM_CACHE_HOME: join(h, 'c'), HELM_CONFIG_HOME: join(h, 'f'), HELM_DATA_HOME: join(h, 'd') };
  const res = await run(clusterInfo().helm, ['template', release, join(repoRoot, 'charts/standby-operator'), '--namespace', namespace, ...args], {
    env,
    timeoutMs: 60_000,
  });
  if (res.code !== 0) throw new Error(`helm template failed: ${res.stderr}`);
  return parseAllDocuments(res.stdout)
    .map((d) => d.toJS() as ChartObject | null)
    .filter((o): o is ChartObject => o?.kind !== undefined);
}
