// A warm standby's copy claim deleted outside the operator (kubectl delete pvc): the standby still
// mounts it, no complete copy is left. Decided here (pure): which claims are lost, and whether the
// ready transfer snapshot set the sync cloned that copy from can clone it again. The controller
// (controller/reclone.ts) acts on it; the standby workload is kept as it is meanwhile.
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { JobOutcome } from '../k8s/jobs.ts';
import { ANNOTATION_COMPLETE, names } from '../site/names.ts';
import type { SnapshotSet } from '../snapshot/sets.ts';
import type { CopyRun } from './inventory.ts';

/** A copy-run id as runId() writes it (the hot tier's fixed copies, run "hot", are not runs). */
const RUN_ID = /^\d{8}t\d{6}z$/;

export interface LostCopyInput {
  site: string;
  /** The primary's volume names. */
  volumes: readonly string[];
  /** The claims the standby workload mounts, by volume name. */
  mounted: Readonly<Record<string, string>>;
  /** The site's copy claims as observed. */
  copyClaims: readonly V1PersistentVolumeClaim[];
  runs: readonly CopyRun[];
  /** The site's transfer snapshot sets (what the warm sync cloned its copies from). */
  sets: readonly SnapshotSet[];
  /** The site's Jobs: the re-clone's check Job is names.bindJob of the run. */
  jobs: readonly JobOutcome[];
}

export interface LostCopy {
  /** The copy run the standby mounts. */
  run: string;
  /** The standby's claims by volume (what it stays on, and what is re-made). */
  claims: Record<string, string>;
  /** Of those, the ones that are not a usable copy: deleted, being deleted, or re-cloned and not yet proven. */
  lost: string[];
  /** The ready transfer snapshot set of that very run, when one is left to clone from. */
  set: SnapshotSet | undefined;
  /** What to do now. */
  action: 'create' | 'wait' | 'prove' | 'mark' | 'failed' | 'none';
  /** The claims to create now (action create), by volume. */
  create: Record<string, string>;
  /** The check Job's failure (action failed). */
  failure?: string | undefined;
  /** For StandbyReady and the Ready condition: what was lost and what happens next. */
  message: string;
  /** For the Event. */
  event: string;
}

/** The run of one of the site's warm copy claims, from its name (names.copyClaim). */
export function runOfClaim(site: string, volume: string, claim: string): string | undefined {
  const prefix = `${site}-${volume}-`;
  if (!claim.startsWith(prefix)) return undefined;
  const run = claim.slice(prefix.length);
  return RUN_ID.test(run) ? run : undefined;
}

/**
 * Whether the standby's copy was lost, and what to do about it. Only when no complete copy is
 * left: with a newer complete copy the standby simply moves onto it.
 */
export function lostCopy(i: LostCopyInput): LostCopy | undefined {
  if (i.runs.some((r) => r.complete)) return undefined;
  if (i.volumes.length === 0 || !i.volumes.every((v) => v in i.mounted)) return undefined;
  const runs = new Set(i.volumes.map((v) => runOfClaim(i.site, v, i.mounted[v] ?? '')));
  const [run] = [...runs];
  if (runs.size !== 1 || !run) return undefined;
  const claims: Record<string, string> = {};
  for (const v of i.volumes) claims[v] = names.copyClaim(i.site, v, run);
  const byName = new Map(i.copyClaims.map((c) => [c.metadata?.name ?? '', c]));
  const usable = (c: V1PersistentVolumeClaim | undefined) =>
    c !== undefined && !c.metadata?.deletionTimestamp && c.metadata?.annotations?.[ANNOTATION_COMPLETE] === 'true' && c.status?.phase === 'Bound';
  const lost = Object.values(claims).filter((n) => !usable(byName.get(n)));
  if (lost.length === 0) return undefined;

  const set = i.sets.find((s) => s.run === run && s.ready && i.volumes.every((v) => v in s.snapshots));
  const what = `PersistentVolumeClaim ${lost.join(', ')} was deleted outside the operator: it held the standby's copy (run ${run})`;
  const nextSync = 'the next scheduled sync makes a new copy (or run one now: kubectl create job --from=cronjob/' + `${names.syncCronJob(i.site)} <name>)`;
  if (!set) {
    const next = `no ready snapshot of that copy is left to re-clone it from; the standby workload is kept, and ${nextSync}`;
    return { run, claims, lost, set, action: 'none', create: {}, message: `${what}; ${next}`, event: `${what}; ${next}` };
  }
  const from = `re-cloning it from VolumeSnapshot ${i.volumes.map((v) => set.snapshots[v]).join(', ')} (data from ${set.time.toISOString()})`;
  const base = { run, claims, lost, set, create: {} as Record<string, string>, event: `${what}; ${from}` };
  const check = i.jobs.find((j) => j.name === names.bindJob(i.site, run));
  const missing = i.volumes.filter((v) => !byName.has(claims[v]!));
  const terminating = i.volumes.some((v) => byName.get(claims[v]!)?.metadata?.deletionTimestamp);
  if (check?.failed) {
    const failure = check.message || 'the copy check Job failed';
    return { ...base, action: 'failed', failure, message: `${what}; re-cloning it from its snapshot failed (${failure}): ${nextSync}` };
  }
  if (terminating) return { ...base, action: 'wait', message: `${what}; ${from} once it is gone` };
  if (missing.length > 0) {
    return { ...base, action: 'create', create: Object.fromEntries(missing.map((v) => [v, claims[v]!])), message: `${what}; ${from}` };
  }
  // Every claim is there again: proven usable the way a sync proves its copy (a Job mounts it, then Bound).
  const bound = i.volumes.every((v) => byName.get(claims[v]!)?.status?.phase === 'Bound');
  const action = check?.succeeded ? (bound ? 'mark' : 'wait') : 'prove';
  return { ...base, action, message: `${what}; ${from}` };
}
