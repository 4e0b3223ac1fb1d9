// The writes of a reconcile's step actions (fencing, promoting, switching), over the operator's
// client and caches: an apply is skipped when the cache already holds the object, a create is
// idempotent. What a promotion's steps write is released by the site (promotion/release.ts).
import { needsApply, stamped } from '../k8s/apply.ts';
import type { ObjectActions } from '../k8s/actions.ts';
import { isConflict } from '../k8s/client.ts';
import { resourceOfKind } from '../k8s/resources.ts';
import { keyOf, type KubeObject } from '../k8s/types.ts';
import { informerOfKind } from './caches.ts';
import type { ReconcilerDeps } from './context.ts';

export function actuator(d: ReconcilerDeps, prepare: (o: KubeObject) => KubeObject = (o) => o): ObjectActions {
  const cached = <T extends KubeObject>(kind: string, namespace: string, name: string): T | undefined =>
    informerOfKind(d.caches, kind)?.get(`${namespace}/${name}`) as T | undefined;
  return {
    cached,
    async apply(obj) {
      const want = stamped(prepare(obj));
      if (!needsApply(want, informerOfKind(d.caches, want.kind ?? '')?.get(keyOf(want)))) return;
      await d.client.apply(resourceOfKind(want.kind ?? ''), want);
    },
    async replace(obj) {
      const want = stamped(prepare(obj));
      const res = resourceOfKind(want.kind ?? '');
      const live = informerOfKind(d.caches, want.kind ?? '')?.get(keyOf(want));
      if (!live) {
        await d.client.apply(res, want);
        return;
      }
      // The live identity and precondition, the wanted labels, owners and content; annotations
      // others set are kept (they change nothing the object does).
      const { labels: _l, annotations, ownerReferences: _o, managedFields: _m, ...identity } = live.metadata ?? {};
      await d.client.replace(res, {
        ...want,
        metadata: {
          ...identity,
          labels: want.metadata?.labels,
          annotations: { ...annotations, ...want.metadata?.annotations },
          ...(want.metadata?.ownerReferences ? { ownerReferences: want.metadata.ownerReferences } : {}),
        },
      });
    },
    async ensure<T extends KubeObject>(obj: T): Promise<T> {
      const ns = obj.metadata?.namespace ?? '';
      const name = obj.metadata?.name ?? '';
      const have = cached<T>(obj.kind ?? '', ns, name);
      if (have) return have;
      const res = resourceOfKind(obj.kind ?? '');
      try {
        return await d.client.create(res, prepare(obj) as T);
      } catch (err) {
        if (!isConflict(err) && !(err instanceof Error && /already exists/.test(err.message))) throw err;
        const live = await d.client.get<T>(res, ns, name);
        if (!live) throw err;
        return live;
      }
    },
    async remove(kind, namespace, name, uid) {
      await d.client.delete(resourceOfKind(kind), namespace, name, uid ? { uid } : {});
    },
    async patch(kind, namespace, name, patch) {
      await d.client.mergePatch(resourceOfKind(kind), namespace, name, patch);
    },
    async jsonPatch(kind, namespace, name, ops) {
      await d.client.jsonPatch(resourceOfKind(kind), namespace, name, ops);
    },
  };
}
