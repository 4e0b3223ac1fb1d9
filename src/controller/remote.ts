// A site whose primary runs in another cluster (spec.primary.cluster): the primary's objects come
// from that cluster's caches (remote/cluster.ts), the rest of the reconcile reads them as it reads
// local ones (facts.ts PrimaryObjects), and what it cannot know while the cluster does not answer
// is said so: the primary is Unreachable, which is not NotReady (the failure clock does not run).
import type { StandbySite } from '../api/site.ts';
import type { SiteStatus } from '../api/status.ts';
import type { PrimaryAssessment } from '../promotion/detect.ts';
import { unreachableText, type PrimarySiteView } from '../promotion/site-lost.ts';
import type { RemoteCluster } from '../remote/cluster.ts';
import { resumedSince } from '../remote/health.ts';
import { toDate } from '../k8s/types.ts';
import type { ReconcilerDeps } from './context.ts';
import type { Lookup, PrimaryObjects, ReferenceProblem } from './facts.ts';

export interface RemotePrimary {
  /** The cluster, when its kubeconfig could be loaded. */
  cluster: RemoteCluster | undefined;
  /** What its caches hold (the last known state while it does not answer). */
  objects: PrimaryObjects;
  /** Can it be reached: the fact the promotion gate and the status read. */
  site: PrimarySiteView;
  /** The kubeconfig Secret cannot be used: a person must fix it. */
  problem: string | undefined;
}

const nothing: Lookup<never> = { get: () => undefined, inNamespace: () => [] };

function emptyObjects(namespace: string): PrimaryObjects {
  return { namespace, statefulSets: nothing, deployments: nothing, pods: nothing, services: nothing, pvcs: nothing, networkPolicies: nothing };
}

export function isRemote(site: StandbySite): boolean {
  return site.spec.primary.cluster !== undefined;
}

/** The primary's namespace in its cluster. */
export function primaryNamespace(site: StandbySite): string {
  return site.spec.primary.namespace ?? site.metadata.namespace;
}

/** The primary's cluster of a site, or undefined when the primary is in this cluster. */
export async function remotePrimaryOf(d: ReconcilerDeps, site: StandbySite): Promise<RemotePrimary | undefined> {
  const key = `${site.metadata.namespace}/${site.metadata.name}`;
  if (!isRemote(site)) {
    d.remote?.release(key);
    return undefined;
  }
  const recorded = site.status.primarySite;
  const since = (h: { reachable: boolean; since: Date }) => resumedSince({ ...h, lastError: undefined, answering: false, failures: 0, firstFailure: undefined, resyncing: false }, recorded);
  const ns = primaryNamespace(site);
  if (!d.remote) {
    const problem = 'this operator process watches no other clusters (a bug: the manager was started without remote clusters)';
    return { cluster: undefined, objects: emptyObjects(ns), site: { server: undefined, reachable: false, since: since({ reachable: false, since: new Date() }), lastError: problem, answering: false }, problem };
  }
  const access = await d.remote.access(key, site.metadata.namespace, site.spec.primary);
  if (!access.ok) {
    return {
      cluster: undefined,
      objects: emptyObjects(ns),
      site: { server: recorded?.cluster, reachable: false, since: since({ reachable: false, since: toDate(recorded?.since) ?? new Date() }), lastError: access.problem, answering: false },
      problem: access.problem,
    };
  }
  const c = access.cluster;
  const h = c.health;
  const inf = c.informers;
  return {
    cluster: c,
    objects: inf ? { namespace: c.namespace, ...inf } : emptyObjects(c.namespace),
    site: { server: c.server, reachable: h.reachable, since: resumedSince(h, recorded), lastError: h.lastError, answering: h.answering },
    problem: undefined,
  };
}

/**
 * The primary as assessed from caches that may be stale: while its cluster does not answer it is
 * Unreachable, its failure clock keeps what it had (it neither starts nor restarts), and the
 * counts are the last ones seen.
 */
export function remoteAssessment(a: PrimaryAssessment, remote: RemotePrimary, prev: SiteStatus): PrimaryAssessment {
  if (remote.site.reachable) return a;
  return {
    ...a,
    state: 'Unreachable',
    ready: false,
    notReadySince: toDate(prev.primary?.notReadySince),
    everReady: prev.primary?.everReady === true,
    scaledToZero: false,
    readyReplicas: prev.primary?.readyReplicas ?? a.readyReplicas,
    replicas: prev.primary?.replicas ?? a.replicas,
    message: unreachableText(remote.site),
  };
}

/**
 * Reference problems for a remote primary: what only its caches can show (its Service and claims
 * missing) is not known while it does not answer; a kubeconfig Secret that cannot be used stalls.
 */
export function remoteReferenceProblems(problems: readonly ReferenceProblem[], remote: RemotePrimary, site: StandbySite): ReferenceProblem[] {
  const out = remote.site.reachable
    ? problems.map((p) => ({ ...p, message: p.message.replace(`in namespace ${site.metadata.namespace}`, `in namespace ${primaryNamespace(site)} of the primary's cluster`) }))
    : problems.filter((p) => !/spec\.primary\.service|PersistentVolumeClaim/.test(p.message));
  if (remote.problem) out.push({ message: remote.problem, stalls: true });
  return out;
}
