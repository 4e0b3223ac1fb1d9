// Every write the controller makes in the primary's cluster goes through here, with the same
// owner check as at home (actuator.ts): an object of a name the site wants that the site did not
// make is never applied to, adopted or deleted. Owner references cannot cross clusters (one to
// a UID the other cluster does not know would have its garbage collector delete the object), so
// there the site's objects carry only the site-UID annotation, which the check reads.
//
// Fence first: once a promotion has begun, nothing is written there but the fence until the
// fence is confirmed, so that an old primary whose site comes back is cut off before anything
// else the operator does there.
import type { StandbySite } from '../api/site.ts';
import { needsApply, stamped } from '../k8s/apply.ts';
import type { ObjectActions } from '../k8s/actions.ts';
import { isConflict } from '../k8s/client.ts';
import { resourceOfKind } from '../k8s/resources.ts';
import { keyOf, type KubeObject } from '../k8s/types.ts';
import type { RemoteCluster, RemoteInformers } from '../remote/cluster.ts';
import { names } from '../site/names.ts';
import { applyOwnedWith, assertOurs } from './actuator.ts';

/** A write in the primary's cluster refused until the fence is confirmed there. */
export class FenceFirst extends Error {}

const INFORMER_OF: Record<string, keyof RemoteInformers> = {
  StatefulSet: 'statefulSets',
  Deployment: 'deployments',
  Pod: 'pods',
  Service: 'services',
  PersistentVolumeClaim: 'pvcs',
  NetworkPolicy: 'networkPolicies',
};

/** The object as it is written there: in the primary's namespace, without owner references. */
export function forPrimaryCluster<T extends KubeObject>(obj: T, namespace: string): T {
  const { ownerReferences: _refs, ...meta } = obj.metadata ?? {};
  return { ...obj, metadata: { ...meta, namespace } };
}

export interface RemoteActuatorOptions {
  /** A promotion has begun and the fence is not confirmed yet: only the fence may be written. */
  fenceFirst: boolean;
  /** Applied to every object before it is written (e.g. promotion/release.ts). */
  prepare?: (o: KubeObject) => KubeObject;
  /** Called after each write, for the log and the tests (which check the order). */
  onWrite?: (verb: string, o: KubeObject) => void;
}

export function remoteActuator(site: StandbySite, cluster: RemoteCluster, o: RemoteActuatorOptions): ObjectActions {
  const ns = cluster.namespace;
  const fence = names.fence(site.metadata.name);
  // Everything it writes there is in the primary's namespace, whatever namespace the builders gave.
  const cached = <T extends KubeObject>(kind: string, _namespace: string, name: string): T | undefined => {
    const field = INFORMER_OF[kind];
    const inf = field ? cluster.informers?.[field] : undefined;
    return inf?.get(`${ns}/${name}`) as T | undefined;
  };
  const prepare = (obj: KubeObject) => forPrimaryCluster(o.prepare ? o.prepare(obj) : obj, ns);
  const gate = (kind: string, name: string) => {
    if (o.fenceFirst && !(kind === 'NetworkPolicy' && name === fence)) {
      throw new FenceFirst(`${kind} ${name} in the primary's cluster waits: the fence NetworkPolicy ${fence} goes up there first`);
    }
  };
  return {
    cached,
    async apply(obj) {
      const want = stamped(prepare(obj));
      gate(want.kind ?? '', want.metadata?.name ?? '');
      const live = cached(want.kind ?? '', ns, want.metadata?.name ?? '');
      if (!needsApply(want, live)) {
        if (live) assertOurs(site, live);
        return;
      }
      await applyOwnedWith(cluster.writer, site, want, live);
      o.onWrite?.('apply', want);
    },
    async ensure<T extends KubeObject>(obj: T): Promise<T> {
      const want = prepare(obj) as T;
      const name = want.metadata?.name ?? '';
      gate(want.kind ?? '', name);
      const have = cached<T>(want.kind ?? '', ns, name);
      if (have) {
        assertOurs(site, have);
        return have;
      }
      const res = resourceOfKind(want.kind ?? '');
      try {
        const made = await cluster.writer.create(res, want);
        o.onWrite?.('create', want);
        return made;
      } catch (err) {
        if (!isConflict(err) && !(err instanceof Error && /already exists/.test(err.message))) throw err;
        const live = await cluster.reader.get<T>(res, ns, name);
        if (!live) throw err;
        assertOurs(site, live);
        return live;
      }
    },
    async patch(kind, _namespace, name, patch) {
      gate(kind, name);
      const live = cached(kind, ns, name) ?? (await cluster.reader.get(resourceOfKind(kind), ns, name));
      if (live) assertOurs(site, live);
      await cluster.writer.mergePatch(resourceOfKind(kind), ns, name, patch);
      o.onWrite?.('patch', { kind, metadata: { name, namespace: ns } });
    },
    async replace(obj) {
      // The whole object (PUT with the live resourceVersion), as the local actuator does: the fence
      // there must be exactly the fence too.
      const want = stamped(prepare(obj));
      const name = want.metadata?.name ?? '';
      gate(want.kind ?? '', name);
      const res = resourceOfKind(want.kind ?? '');
      const live = cached(want.kind ?? '', ns, name) ?? (await cluster.reader.get(res, ns, name));
      if (!live) {
        await applyOwnedWith(cluster.writer, site, want, undefined);
        o.onWrite?.('apply', want);
        return;
      }
      assertOurs(site, live);
      const { labels: _l, annotations, managedFields: _m, ...identity } = live.metadata ?? {};
      await cluster.writer.replace(res, { ...want, metadata: { ...identity, labels: want.metadata?.labels, annotations: { ...annotations, ...want.metadata?.annotations } } });
      o.onWrite?.('replace', want);
    },
    async remove(kind, _namespace, name, opts = {}) {
      gate(kind, name);
      const live = cached(kind, ns, name) ?? (await cluster.reader.get(resourceOfKind(kind), ns, name));
      // Never another's object there: `theirs` is for this cluster's data-path exceptions only.
      if (live) assertOurs(site, live);
      await cluster.writer.delete(resourceOfKind(kind), ns, name, opts.uid ? { uid: opts.uid } : live?.metadata?.uid ? { uid: live.metadata.uid } : {});
      o.onWrite?.('delete', { kind, metadata: { name, namespace: ns } });
    },
    async jsonPatch(kind, _namespace, name, ops) {
      gate(kind, name);
      const live = cached(kind, ns, name) ?? (await cluster.reader.get(resourceOfKind(kind), ns, name));
      if (live) assertOurs(site, live);
      await cluster.writer.jsonPatch(resourceOfKind(kind), ns, name, ops);
      o.onWrite?.('patch', { kind, metadata: { name, namespace: ns } });
    },
  };
}

/** The cached object of a kind there by name. */
export function remoteCached(cluster: RemoteCluster, kind: string, name: string): KubeObject | undefined {
  const field = INFORMER_OF[kind];
  return field ? cluster.informers?.[field].get(keyOf({ metadata: { namespace: cluster.namespace, name } })) : undefined;
}
