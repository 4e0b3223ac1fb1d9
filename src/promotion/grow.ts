// The Growing step: a standby that stood by at reduced capacity (spec.standby.resources) grows to
// the primary's requests and limits once it serves. Done by patching the standby workload's pod
// template back to the primary's resources: its controller replaces the pods (a rolling update).
// In-place pod resize (the pods' resize subresource) is not used yet. A failure to grow never
// undoes the promotion: past its deadline (promotion.stepTimeout) the step ends with growthFailed
// recorded, and the promotion ends Promoted (reported by an Event).
import type { V1Container, V1Pod, V1ResourceRequirements } from '@kubernetes/client-node';
import type { StandbySite } from '../api/site.ts';
import type { ObjectActions } from '../k8s/actions.ts';
import { bytes, millicores } from '../k8s/quantity.ts';
import { DONE, doneWith, type StepResult } from '../site/step.ts';
import { isPodReady, podTemplateOf, type Workload } from '../site/workload.ts';

export interface GrowInput {
  site: StandbySite;
  primary: Workload | undefined;
  standby: Workload | undefined;
  standbyPods: readonly V1Pod[];
}

export type GrowthPlan =
  /** The template and every pod have the primary's resources, and enough pods are Ready. */
  | { kind: 'done' }
  /** The template still has reduced resources: these JSON patch operations give it the primary's. */
  | { kind: 'patch'; ops: unknown[]; containers: string[] }
  /** The template has the primary's resources; its pods are being replaced. */
  | { kind: 'wait'; why: string }
  /** Growth cannot happen (what it needs is gone): recorded as growthFailed at once. */
  | { kind: 'giveUp'; why: string };

const RESOURCES = ['cpu', 'memory'] as const;

const amount = (r: string, q: string | number | undefined): number | undefined => (q === undefined ? undefined : r === 'cpu' ? millicores(q) : bytes(q));

/**
 * Whether two containers' resources give the same CPU and memory: requests (a missing request is
 * the limit, as the API server defaults it) and limits, compared as quantities ("1000m" is "1").
 */
export function sameCapacity(a: V1ResourceRequirements | undefined, b: V1ResourceRequirements | undefined): boolean {
  return RESOURCES.every((r) => {
    const reqA = amount(r, a?.requests?.[r] ?? a?.limits?.[r]);
    const reqB = amount(r, b?.requests?.[r] ?? b?.limits?.[r]);
    return reqA === reqB && amount(r, a?.limits?.[r]) === amount(r, b?.limits?.[r]);
  });
}

type Lists = 'containers' | 'initContainers';

/** The containers (by list and index) that the override named, and the primary's resources for each. */
function targets(i: GrowInput, standbyContainers: Record<Lists, V1Container[]>, primaryContainers: V1Container[]) {
  const named = new Set(Object.keys(i.site.spec.standby?.resources ?? {}));
  const byName = new Map(primaryContainers.map((c) => [c.name, c]));
  const out: { list: Lists; index: number; name: string; resources: V1ResourceRequirements | undefined }[] = [];
  for (const list of ['containers', 'initContainers'] as const) {
    standbyContainers[list].forEach((c, index) => {
      const p = byName.get(c.name);
      if (named.has(c.name) && p) out.push({ list, index, name: c.name, resources: p.resources });
    });
  }
  return out;
}

/** What the Growing step does next (pure). */
export function growthPlan(i: GrowInput): GrowthPlan {
  if (!i.primary) return { kind: 'giveUp', why: "the primary workload is gone: its requests and limits, which the standby would grow to, are unknown" };
  if (!i.standby) return { kind: 'wait', why: 'the standby workload to exist' };
  const ps = podTemplateOf(i.primary).spec;
  const ss = podTemplateOf(i.standby).spec;
  const primaryContainers = [...(ps?.containers ?? []), ...(ps?.initContainers ?? [])];
  const standbyLists = { containers: ss?.containers ?? [], initContainers: ss?.initContainers ?? [] };
  const wanted = targets(i, standbyLists, primaryContainers);
  const behind = wanted.filter((t) => !sameCapacity(standbyLists[t.list][t.index]?.resources, t.resources));
  if (behind.length > 0) {
    const ops = behind.flatMap((t) => [
      // The index is the one read from the cache: the test makes a changed list refuse the patch.
      { op: 'test', path: `/spec/template/spec/${t.list}/${t.index}/name`, value: t.name },
      { op: 'add', path: `/spec/template/spec/${t.list}/${t.index}/resources`, value: t.resources ?? {} },
    ]);
    return { kind: 'patch', ops, containers: behind.map((t) => t.name) };
  }
  // The operator's pod cache keeps no pod spec (controller/caches.ts): a pod is grown when it is
  // of the template's revision, which the workload's controller reports once it saw the patch.
  const st = i.standby.status;
  if ((st?.observedGeneration ?? 0) < (i.standby.metadata?.generation ?? 0)) return { kind: 'wait', why: "the standby workload's controller to see the grown template" };
  const live = i.standbyPods.filter((p) => !p.metadata?.deletionTimestamp);
  const replicas = i.standby.spec?.replicas ?? 1;
  const revision = i.standby.kind === 'StatefulSet' ? (st as { updateRevision?: string } | undefined)?.updateRevision : undefined;
  const small =
    i.standby.kind === 'StatefulSet'
      ? live.filter((p) => !revision || p.metadata?.labels?.['controller-revision-hash'] !== revision).map((p) => p.metadata?.name ?? '')
      : (st?.updatedReplicas ?? 0) < replicas || live.length > replicas
        ? [`${Math.max(0, live.length - (st?.updatedReplicas ?? 0))} old`]
        : [];
  if (small.length > 0) return { kind: 'wait', why: `pods ${small.sort().join(', ')} still have the reduced resources (a rolling update replaces them)` };
  const ready = live.filter(isPodReady).length;
  if (ready < replicas) return { kind: 'wait', why: `${ready} of ${replicas} standby pods with the primary's resources Ready` };
  return { kind: 'done' };
}

/** The Growing step's action: patch the template while it is behind, then wait for its pods. */
export async function growStandby(i: GrowInput, act: ObjectActions): Promise<StepResult> {
  const onTimeout = (why: string) => ({ growthFailed: `the standby did not reach the primary's requests and limits within promotion.stepTimeout: ${why}` });
  try {
    const plan = growthPlan(i);
    switch (plan.kind) {
      case 'done':
        return DONE;
      case 'giveUp':
        return doneWith({ growthFailed: plan.why });
      case 'patch': {
        const w = i.standby!;
        await act.jsonPatch(w.kind ?? '', i.site.metadata.namespace, w.metadata?.name ?? '', plan.ops);
        const why = `the standby's pod template was given the primary's resources (containers ${plan.containers.join(', ')}); its pods to be replaced`;
        return { done: false, waitingFor: why, overrun: onTimeout(why) };
      }
      case 'wait':
        return { done: false, waitingFor: plan.why, overrun: onTimeout(plan.why) };
    }
  } catch (err) {
    const why = `could not patch the standby workload: ${(err as Error).message}`;
    return { done: false, waitingFor: why, overrun: onTimeout(why) };
  }
}
