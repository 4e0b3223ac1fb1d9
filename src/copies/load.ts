// What the copy subcommands (snapshot, sync) need to know about their site,
// read straight from the API (they run as Jobs, without caches).
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeProblems, validateSpec, type StandbySite, type StandbySiteObject } from '../api/site.ts';
import { SITE_RESOURCE } from '../api/resource.ts';
import type { KubeClient } from '../k8s/client.ts';
import { R } from '../k8s/resources.ts';
import { splitKey } from '../k8s/types.ts';
import { primaryVolumes, type PrimaryVolume, type Workload } from '../site/workload.ts';

/** How a copy subcommand runs: its clock, how long it may take and how often it looks. */
export interface CopyRunOptions {
  now?: Date;
  timeoutMs?: number;
  pollMs?: number;
  log: Logger;
  /** The operator's image, for Jobs the subcommand starts (the sync's copy check). */
  image?: string;
}

export interface LoadedSite {
  site: StandbySite;
  primary: Workload;
  volumes: PrimaryVolume[];
  claims: Map<string, V1PersistentVolumeClaim>;
}

export async function loadSite(client: KubeClient, key: string): Promise<LoadedSite> {
  const { namespace, name } = splitKey(key);
  if (!namespace || !name) throw new Error(`--site must be <namespace>/<name>, got "${key}"`);
  const obj = await client.get<StandbySiteObject>(SITE_RESOURCE, namespace, name);
  if (!obj?.metadata) throw new Error(`StandbySite ${key} does not exist`);
  const v = validateSpec(obj.spec, name);
  if (!v.ok) throw new Error(`StandbySite ${key} is invalid: ${describeProblems(v.problems)}`);
  const site: StandbySite = { metadata: { ...obj.metadata, name, namespace }, spec: v.spec, status: obj.status ?? {} };
  const ref = v.spec.primary.workload;
  const primary = await client.get<Workload>(ref.kind === 'StatefulSet' ? R.statefulSet : R.deployment, namespace, ref.name);
  if (!primary) throw new Error(`the primary ${ref.kind} ${ref.name} does not exist`);
  const volumes = primaryVolumes(primary);
  if (volumes.length === 0) throw new Error(`${ref.kind} ${ref.name} has no PersistentVolumeClaims to copy`);
  const claims = new Map<string, V1PersistentVolumeClaim>();
  for (const vol of volumes) {
    const pvc = await client.get<V1PersistentVolumeClaim>(R.pvc, namespace, vol.claim);
    if (!pvc) throw new Error(`the primary's PersistentVolumeClaim ${vol.claim} does not exist`);
    claims.set(vol.claim, pvc);
  }
  return { site, primary, volumes, claims };
}
