// The `sync` subcommand, run by the warm tier's CronJob: make a new complete
// copy of the primary's volumes beside the standby's current one, proven
// usable (Bound, mountable) before it is marked complete. The controller moves
// the standby onto it and only then deletes the old copy.
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { StandbySiteObject } from '../api/site.ts';
import type { SiteStatus } from '../api/status.ts';
import { buildCopyClaim } from '../copies/claim.ts';
import { loadSite, type CopyRunOptions, type LoadedSite } from '../copies/load.ts';
import { asPodTemplate } from '../engines/generic.ts';
import { engineFor } from '../engines/registry.ts';
import { registerBuiltinEngines } from '../engines/builtin.ts';
import type { KubeClient } from '../k8s/client.ts';
import { runJobToCompletion } from '../k8s/jobs.ts';
import { SITE_RESOURCE } from '../api/resource.ts';
import { R } from '../k8s/resources.ts';
import { ANNOTATION_COMPLETE, ANNOTATION_DATA_TIME, names, runId } from '../site/names.ts';
import { lifecycleOf, promotionInEffect, standbyCopiesUnkept } from '../promotion/lifecycle.ts';
import { pruneSnapshots } from '../snapshot/prune.ts';
import { takeSnapshotSet } from '../snapshot/take.ts';
import { buildJob, COPY_JOB_DEADLINE_SECONDS } from '../tiers/jobs.ts';
import { proveUsable } from './prove.ts';

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
  refuseDuringPromotion(key, site.status);
  const started = o.now ?? new Date();
  const run = runId(started);
  const timeoutMs = o.timeoutMs ?? (COPY_JOB_DEADLINE_SECONDS - 120) * 1000;
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1000, deadline - Date.now());
  const pollMs = o.pollMs ?? 2000;
  const claims: Record<string, string> = {};
  let dataTime: Date;
  try {
    if (site.spec.warm.method === 'volumeSnapshot') {
      const set = await takeSnapshotSet(client, site, loaded.volumes, run, site.spec.warm.volumeSnapshotClassName, { timeoutMs: left(), pollMs, log: o.log, role: 'transfer' });
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
      // The copy Job (user's or engine's) with the new volumes mounted.
      const job = buildJob(site, {
        name: names.copyJob(site.metadata.name, run),
        role: 'transfer',
        template,
        claims,
        backoffLimit: 1,
        activeDeadlineSeconds: Math.floor(timeoutMs / 1000),
        ttlSecondsAfterFinished: 86_400,
      });
      const done = await runJobToCompletion(client, job, { timeoutMs: left(), pollMs, what: 'copy Job' });
      dataTime = done.started ?? started;
    }
    // Usable: every claim Bound (a snapshot clone also mounted by a check Job, which binds claims
    // of a WaitForFirstConsumer class; the copy Job already mounted the others).
    await proveUsable(client, site, run, claims, {
      image: o.image ?? '',
      deadline,
      pollMs,
      mount: site.spec.warm.method === 'volumeSnapshot',
    });
    // A promotion begun while the copy was made: it must never be used (and is removed).
    refuseDuringPromotion(key, (await client.get<StandbySiteObject>(SITE_RESOURCE, site.metadata.namespace, site.metadata.name))?.status ?? {});
    // The whole copy is in place and usable: only now may the standby move onto it.
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
    await pruneSnapshots(client, site, loaded.volumes.map((v) => v.volume), { keepLast: 2 }, new Date(), 'transfer');
  }
  o.log.info({ run, claims, dataTime: dataTime.toISOString() }, 'standby copy complete');
  return { run, claims, dataTime };
}

/**
 * From the moment a promotion begins (and until it is abandoned, or the site failed back), no
 * sync makes a copy: it would be a copy of the fenced old primary, and the standby that serves
 * (or will) must only ever run on the copy the promotion recorded. After a failback the primary
 * serves again and status.promotion only records the past failover: syncs resume (the standby's
 * re-protection waits for one) once that re-protection kept a copy of the standby's copies.
 */
export function refuseDuringPromotion(key: string, status: SiteStatus): void {
  if (standbyCopiesUnkept(lifecycleOf(status))) {
    throw new Error(
      `StandbySite ${key} failed back and the standby's copies, what it served on, are not kept yet: no sync replaces them before the standby's re-protection keeps a copy of them (status.reprotection.divergence); ` +
        're-protection starts by itself (promotion.reprotect: automatic) or on standby.dev/reprotect=<token>',
    );
  }
  const p = promotionInEffect(status);
  if (!p?.state) return;
  throw new Error(
    `StandbySite ${key} has a promotion (${p.state}, begun ${p.startedAt ?? '?'}): no copy is made of the fenced old primary for the standby that serves clients; ` +
      (p.state === 'Failed' ? 'abandon the failed promotion (annotate standby.dev/abandon=<token>) to sync again' : 'create a new StandbySite for the new primary'),
  );
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
