// The `sync` subcommand, run by the warm tier's CronJob: make a new complete
// copy of the primary's volumes beside the standby's current one. The
// controller moves the standby onto it and only then deletes the old copy.
import type { V1Job, V1PersistentVolumeClaim, V1PodTemplateSpec } from '@kubernetes/client-node';
import type { KubeClient } from '../k8s/client.ts';
import { R } from '../k8s/resources.ts';
import { asPodTemplate } from '../engines/generic.ts';
import { engineFor } from '../engines/registry.ts';
import { registerBuiltinEngines } from '../engines/builtin.ts';
import { ANNOTATION_COMPLETE, ANNOTATION_DATA_TIME, names, ownerReference, runId, siteLabels } from '../site/names.ts';
import { buildCopyClaim } from '../tiers/claims.ts';
import { COPY_JOB_DEADLINE_SECONDS, jobPod } from '../tiers/jobs.ts';
import { pruneSnapshots, type CopyRunOptions } from '../snapshot/run.ts';
import { loadSite, type LoadedSite } from '../snapshot/load.ts';
import { takeSnapshotSet } from '../snapshot/take.ts';
import { jobOutcome } from '../controller/observe.ts';

export interface SyncOutcome {
  run: string;
  claims: Record<string, string>;
  dataTime: Date;
}

export async function syncSite(client: KubeClient, key: string, o: CopyRunOptions): Promise<SyncOutcome> {
  registerBuiltinEngines();
  const loaded = await loadSite(client, key);
  const { site } = loaded;
  if (site.spec.tier !== 'warm' || !site.spec.warm) throw new Error(`StandbySite ${key} is not a warm site (tier ${site.spec.tier})`);
  const started = o.now ?? new Date();
  const run = runId(started);
  const timeoutMs = o.timeoutMs ?? (COPY_JOB_DEADLINE_SECONDS - 120) * 1000;
  const pollMs = o.pollMs ?? 2000;
  const claims: Record<string, string> = {};
  let dataTime: Date;
  try {
    if (site.spec.warm.method === 'volumeSnapshot') {
      const set = await takeSnapshotSet(client, site, loaded.volumes, run, site.spec.warm.volumeSnapshotClassName, { timeoutMs, pollMs, log: o.log, role: 'transfer' });
      dataTime = set.time;
      for (const v of loaded.volumes) {
        const pvc = copyClaim(loaded, v.volume, run, set.snapshots[v.volume]);
        await client.create(R.pvc, pvc);
        claims[v.volume] = pvc.metadata!.name!;
      }
    } else {
      for (const v of loaded.volumes) {
        const pvc = copyClaim(loaded, v.volume, run, undefined);
        await client.create(R.pvc, pvc);
        claims[v.volume] = pvc.metadata!.name!;
      }
      const template =
        site.spec.warm.method === 'job'
          ? asPodTemplate(site.spec.warm.jobTemplate)
          : engineFor(site.spec.engine).copyTemplate({
              site,
              tier: 'warm',
              primary: loaded.primary,
              primaryService: undefined,
              volumes: loaded.volumes,
              operatorImage: '',
            });
      if (!template) throw new Error(`the ${site.spec.engine.type} engine cannot copy data (warm.method ${site.spec.warm.method})`);
      const job = await runTransfer(client, loaded, run, template, claims, { timeoutMs, pollMs });
      dataTime = job.started ?? started;
    }
    // The whole copy is in place: only now may the standby move onto it.
    for (const name of Object.values(claims)) {
      await client.mergePatch(R.pvc, site.metadata.namespace, name, {
        metadata: { annotations: { [ANNOTATION_COMPLETE]: 'true', [ANNOTATION_DATA_TIME]: dataTime.toISOString() } },
      });
    }
  } catch (err) {
    // An unfinished copy is never used; remove it so it cannot be mistaken for one.
    for (const name of Object.values(claims)) await client.delete(R.pvc, site.metadata.namespace, name).catch(() => false);
    throw err;
  }
  if (site.spec.warm.method === 'volumeSnapshot') {
    // Keep the two newest sets: the one the standby was cloned from may still be provisioning.
    await pruneSnapshots(client, site.metadata.namespace, site.metadata.name, loaded.volumes.map((v) => v.volume), { keepLast: 2 }, new Date(), 'transfer');
  }
  o.log.info({ run, claims, dataTime: dataTime.toISOString() }, 'standby copy complete');
  return { run, claims, dataTime };
}

function copyClaim(l: LoadedSite, volume: string, run: string, snapshot: string | undefined): V1PersistentVolumeClaim {
  const v = l.volumes.find((x) => x.volume === volume)!;
  return buildCopyClaim({
    site: l.site,
    name: names.copyClaim(l.site.metadata.name, volume, run),
    run,
    volume: v,
    primaryClaim: l.claims.get(v.claim),
    fromSnapshot: snapshot,
  });
}

/** Runs the copy Job (user's or engine's) with the new volumes mounted, and waits for it. */
async function runTransfer(
  client: KubeClient,
  l: LoadedSite,
  run: string,
  template: V1PodTemplateSpec,
  claims: Record<string, string>,
  o: { timeoutMs: number; pollMs: number },
): Promise<{ started: Date | undefined }> {
  const pod = jobPod(l.site, 'transfer', template);
  const others = (pod.spec?.volumes ?? []).filter((v) => !(v.name in claims));
  pod.spec = {
    ...pod.spec!,
    volumes: [...others, ...Object.entries(claims).map(([name, claimName]) => ({ name, persistentVolumeClaim: { claimName } }))],
  };
  const name = names.copyJob(l.site.metadata.name, run);
  const ns = l.site.metadata.namespace;
  await client.create<V1Job>(R.job, {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: ns, labels: siteLabels(l.site.metadata.name, 'transfer'), ownerReferences: [ownerReference(l.site)] },
    spec: { backoffLimit: 1, activeDeadlineSeconds: Math.floor(o.timeoutMs / 1000), ttlSecondsAfterFinished: 86_400, template: pod },
  });
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const job = await client.get<V1Job>(R.job, ns, name);
    if (!job) throw new Error(`copy Job ${name} disappeared`);
    const out = jobOutcome(job);
    if (out.succeeded) return { started: out.started };
    if (out.failed) throw new Error(`copy Job ${name} failed: ${out.message}`);
    if (Date.now() > deadline) throw new Error(`copy Job ${name} did not finish in time`);
    await new Promise((r) => setTimeout(r, o.pollMs));
  }
}
