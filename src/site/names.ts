// Names and labels of everything a StandbySite owns, in one place so that
// builders, the controller, the copy jobs and the tests agree on them.
import type { IObjectMeta, IOwnerReference } from '@kubernetes-models/apimachinery/apis/meta/v1';
import { API_VERSION, KIND, type StandbySite } from '../api/site.ts';

export const LABEL_SITE = 'standby.dev/site';
export const LABEL_ROLE = 'standby.dev/role';
export const LABEL_RUN = 'standby.dev/copy-run';
/** On every object of a drill (role drill): the drill's id. */
export const LABEL_DRILL = 'standby.dev/drill-id';
/** On a drill's pods: scratch (the restored workload) or verify (the checks that may reach it). */
export const LABEL_DRILL_PART = 'standby.dev/drill-part';
/** On the standby's pods once a site has been promoted and failed back: the epoch they were made for. */
export const LABEL_EPOCH = 'standby.dev/epoch';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGER = 'standby-operator';

export const ANNOTATION_VOLUME = 'standby.dev/volume';
export const ANNOTATION_DATA_TIME = 'standby.dev/data-time';
export const ANNOTATION_COMPLETE = 'standby.dev/complete';
export const ANNOTATION_SOURCE_CLAIM = 'standby.dev/source-claim';
export const ANNOTATION_PROMOTE = 'standby.dev/promote';
/** A new value runs a drill (each value once). */
export const ANNOTATION_DRILL = 'standby.dev/drill';
/** standby.dev/abandon=<token>: end a Failed promotion (fence lifted, clients back on the primary). */
export const ANNOTATION_ABANDON = 'standby.dev/abandon';
export const ANNOTATION_FAILBACK = 'standby.dev/failback';
export const ANNOTATION_REPROTECT = 'standby.dev/reprotect';
/** The hash of what the operator last applied (owned by the generic apply layer). */
export { ANNOTATION_APPLIED } from '../k8s/apply.ts';
/** On every object the operator creates: the UID of the StandbySite it was made for (see ownership.ts). */
export const ANNOTATION_SITE_UID = 'standby.dev/site-uid';
/** On an object a promotion released from its site (promotion/release.ts): "true". */
export const ANNOTATION_RELEASED = 'standby.dev/released';
/** On a claim of the primary restored by a failback: the snapshot run it was restored from. */
export const ANNOTATION_RESTORED_FROM = 'standby.dev/restored-from';
/** On the traffic Service: the side it selects. */
export const ANNOTATION_ACTIVE = 'standby.dev/active';
/** On a standby workload: the copy run its volumes come from. */
export const ANNOTATION_RUN = 'standby.dev/copy-run';

/** What an owned object is for. */
export type Role =
  | 'standby'
  /** The StandbySiteGuard written into the primary's cluster (automatic site failover). */
  | 'guard'
  | 'copy'
  | 'transfer'
  | 'snapshot'
  | 'fence'
  | 'traffic'
  | 'copier'
  | 'promote'
  | 'restore'
  | 'dumps'
  /** A copy of what only the old side holds, kept before re-protection overwrites it. */
  | 'divergent'
  /** A snapshot of the serving standby's volumes: what a failback restores the primary from. */
  | 'reverse'
  | 'reprotect'
  | 'failback'
  | 'drill';

export const names = {
  standby: (site: string) => `${site}-standby`,
  /** The headless Service of the standby's pods (a StatefulSet standby's governing Service). */
  standbyService: (site: string) => `${site}-standby`,
  /** The PVC an engine keeps its logical dumps on (cold tier, method engine). */
  dumpClaim: (site: string) => `${site}-dumps`,
  traffic: (site: string, spec?: { traffic: { service?: string | undefined } }) => spec?.traffic.service ?? `${site}-active`,
  snapshotCronJob: (site: string) => `${site}-snapshot`,
  syncCronJob: (site: string) => `${site}-sync`,
  copier: (site: string) => `${site}-copier`,
  fence: (site: string) => `${site}-fence`,
  /** The standby's fence, while a failback takes traffic back from it. */
  standbyFence: (site: string) => `${site}-standby-fence`,
  promoteJob: (site: string, token: string) => `${site}-promote-${token}`.slice(0, 63).replace(/-+$/, ''),
  reprotectJob: (site: string, id: string) => `${site}-reprotect-${id}`.slice(0, 63).replace(/-+$/, ''),
  failbackJob: (site: string, id: string) => `${site}-failback-${id}`.slice(0, 63).replace(/-+$/, ''),
  // Job names are label values too (job-name): at most 63 characters. A 40-character site name
  // (MAX_SITE_NAME) and a 16-character run id leave room for "-rst-", not "-restore-".
  restoreJob: (site: string, run: string) => (site.length + run.length + 9 <= 63 ? `${site}-restore-${run}` : `${site}-rst-${run}`),
  copyJob: (site: string, run: string) => `${site}-copy-${run}`,
  /** The Job that proves a new copy mounts (and so binds) before it is marked complete. */
  bindJob: (site: string, run: string) => `${site}-bind-${run}`,
  /** A standby copy of one primary volume, from one copy run. */
  copyClaim: (site: string, volume: string, run: string) => `${site}-${volume}-${run}`.slice(0, 253),
  snapshot: (site: string, volume: string, run: string) => `${site}-${volume}-${run}`.slice(0, 253),
  /**
   * The stem of a drill's scratch objects. A StatefulSet's name must leave room for its pods'
   * controller-revision-hash label (name + 11 characters <= 63): at most 52, so a 40-character
   * site name gets "-dr-" instead of "-drill-".
   */
  drill: (site: string, id: string) => (site.length + id.length + 7 <= 52 ? `${site}-drill-${id}` : `${site}-dr-${id}`),
};

/** The labels every owned object carries. */
export function siteLabels(site: string, role: Role): Record<string, string> {
  return { [LABEL_MANAGED_BY]: MANAGER, [LABEL_SITE]: site, [LABEL_ROLE]: role };
}

/** The labels that select the standby's pods. */
export function standbySelector(site: string): Record<string, string> {
  return { [LABEL_SITE]: site, [LABEL_ROLE]: 'standby' };
}

export function ownerReference(site: StandbySite, controller = true): IOwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: site.metadata.name,
    uid: site.metadata.uid ?? '',
    controller,
    blockOwnerDeletion: true,
  };
}

export interface OwnedMetaOptions {
  /**
   * How the site owns the object: `controller` (the default: garbage-collected with the site),
   * `reference` (an owner reference that is not the controller: data such as snapshots and copies
   * under deletionPolicy Delete), or `none` (kept when the site goes).
   */
  owner?: 'controller' | 'reference' | 'none';
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
}

/** What ownedMeta sets, and only that: no timestamps, so it fits the models' and client-node's metadata alike. */
export type OwnedMeta = Pick<IObjectMeta, 'name' | 'namespace' | 'labels' | 'annotations' | 'ownerReferences'>;

/** The metadata of every object the operator creates for a site: its name, the site's labels and owner. */
export function ownedMeta(site: StandbySite, name: string, role: Role, o: OwnedMetaOptions = {}): OwnedMeta {
  const owner = o.owner ?? 'controller';
  return {
    name,
    namespace: site.metadata.namespace,
    labels: { ...siteLabels(site.metadata.name, role), ...o.labels },
    annotations: { ...o.annotations, ...(site.metadata.uid ? { [ANNOTATION_SITE_UID]: site.metadata.uid } : {}) },
    ...(owner === 'none' ? {} : { ownerReferences: [ownerReference(site, owner === 'controller')] }),
  };
}

/** Objects grouped by the copy run they belong to (their LABEL_RUN), in first-seen order. */
export function byCopyRun<T extends { metadata?: { labels?: Record<string, string> } }>(items: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const o of items) {
    const run = o.metadata?.labels?.[LABEL_RUN];
    if (!run) continue;
    let list = out.get(run);
    if (!list) out.set(run, (list = []));
    list.push(o);
  }
  return out;
}

/** A copy-run id: the UTC time the run started, label-safe (e.g. 20261122t021500z). */
export function runId(at: Date): string {
  return at
    .toISOString()
    .replace(/\.\d+Z$/, 'z')
    .replace(/[-:]/g, '')
    .toLowerCase();
}
