// The Growing step: a standby that stood by at reduced capacity (spec.standby.resources) grows to
// the primary's requests and limits once it serves. Two ways (status.promotion.growth):
//
// - InPlace, where the API server offers the pods' resize subresource (discovery: pods/resize):
//   each standby pod is resized (PATCH pods/<name>/resize with the primary's requests and limits
//   per container) and the kubelet changes its cgroups without restarting a container; the step
//   follows the pod's PodResizePending / PodResizeInProgress conditions and containerStatuses[].
//   resources until the kubelet reports the primary's. The workload's pod template keeps the
//   reduced resources, on purpose: any template change gives it a new revision, and both the
//   StatefulSet and the Deployment controller replace pods of an old revision (the restart in-place
//   resize exists to avoid). A StatefulSet's OnDelete strategy would let the template change
//   without a roll, but it would also stop every later rolling update (a new image), so it is not
//   used. Instead the operator holds the promoted pods at the primary's resources: a pod the
//   controller recreates later starts reduced and is resized again (keepGrown), and the template is
//   right again when the pods restart anyway (a failback makes the standby a standby again).
// - RollingUpdate, the fallback: when the API offers no resize, or refuses one (a node that does
//   not support it; a change of the pods' QoS class) or the kubelet finds it Infeasible, the pod
//   template gets the primary's resources and its controller replaces the pods (they restart once).
//
// A failure to grow never undoes the promotion: past its deadline (promotion.stepTimeout) the step
// ends with growthFailed recorded, and the promotion ends Promoted (reported by an Event).
import type { V1Container, V1Pod, V1ResourceRequirements } from '@kubernetes/client-node';
import type { StandbySite } from '../api/site.ts';
import type { GrowthMethod, PromotionStatus } from '../api/status.ts';
import { ApiError } from '../k8s/client.ts';
import type { ObjectActions } from '../k8s/actions.ts';
import { bytes, millicores } from '../k8s/quantity.ts';
import { DONE, doneWith, type StepResult } from '../site/step.ts';
import { isPodReady, podTemplateOf, type Workload } from '../site/workload.ts';

export interface GrowInput {
  site: StandbySite;
  primary: Workload | undefined;
  standby: Workload | undefined;
  standbyPods: readonly V1Pod[];
  /** The promotion's record: the growth method once chosen (status.promotion.growth). */
  promotion?: Pick<PromotionStatus, 'growth' | 'growthNote'> | undefined;
}

/** In-place resize, when the API server offers the pods' resize subresource (undefined: it does not). */
export interface PodResizer {
  /** JSON patch (RFC 6902) of pods/<name>/resize. */
  resize(namespace: string, name: string, ops: unknown[]): Promise<void>;
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

/** What an in-place growth does next (pure). */
export type InPlacePlan =
  /** Every live standby pod runs with the primary's resources (the kubelet says so), and enough are Ready. */
  | { kind: 'done' }
  /** These pods still ask for the reduced resources: resize each with its JSON patch. */
  | { kind: 'resize'; pods: { name: string; ops: unknown[] }[] }
  /** Resized; the kubelet is at it (or defers it), or pods are missing. */
  | { kind: 'wait'; why: string }
  /** The kubelet refused a resize for good (PodResizePending, reason Infeasible): grow by a rolling update instead. */
  | { kind: 'infeasible'; why: string };

const condition = (p: V1Pod, type: string) => p.status?.conditions?.find((c) => c.type === type && c.status === 'True');

/** One pod's resize state as its kubelet reports it (pure). */
export function resizeState(p: V1Pod): { state: 'none' } | { state: 'infeasible' | 'deferred' | 'inProgress' | 'error'; message: string } {
  const pending = condition(p, 'PodResizePending');
  const msg = (c: { reason?: string; message?: string }) => [c.reason, c.message].filter(Boolean).join(': ');
  if (pending) return { state: pending.reason === 'Infeasible' ? 'infeasible' : 'deferred', message: msg(pending) };
  const inProgress = condition(p, 'PodResizeInProgress');
  if (inProgress) return { state: inProgress.reason === 'Error' ? 'error' : 'inProgress', message: msg(inProgress) };
  return { state: 'none' };
}

/**
 * The in-place growth of the standby's pods (pure): each container the override named gets the
 * primary's requests and limits through the pod's resize subresource; a pod is grown when its
 * spec asks for them and its containerStatuses[].resources (what the kubelet applied) show them.
 */
export function inPlacePlan(i: GrowInput): InPlacePlan {
  if (!i.primary) return { kind: 'wait', why: 'the primary workload to exist' };
  if (!i.standby) return { kind: 'wait', why: 'the standby workload to exist' };
  const ps = podTemplateOf(i.primary).spec;
  const byName = new Map([...(ps?.containers ?? []), ...(ps?.initContainers ?? [])].map((c) => [c.name, c.resources]));
  const named = Object.keys(i.site.spec.standby?.resources ?? {}).filter((n) => byName.has(n));
  const live = i.standbyPods.filter((p) => !p.metadata?.deletionTimestamp);
  const resize: { name: string; ops: unknown[] }[] = [];
  const waiting: string[] = [];
  for (const pod of live) {
    const name = pod.metadata?.name ?? '';
    const ops: unknown[] = [];
    let applied = true;
    for (const list of ['containers', 'initContainers'] as const) {
      for (const [index, c] of (pod.spec?.[list] ?? []).entries()) {
        if (!named.includes(c.name)) continue;
        const want = byName.get(c.name);
        if (!sameCapacity(c.resources, want)) {
          // The pod's UID and the container's index as read: a recreated pod or a changed list refuses the patch.
          ops.push({ op: 'test', path: `/spec/${list}/${index}/name`, value: c.name }, { op: 'add', path: `/spec/${list}/${index}/resources`, value: want ?? {} });
          continue;
        }
        const status = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])].find((s) => s.name === c.name);
        if (!sameCapacity(status?.resources, want)) applied = false;
      }
    }
    if (ops.length > 0) {
      resize.push({ name, ops: [{ op: 'test', path: '/metadata/uid', value: pod.metadata?.uid }, ...ops] });
      continue;
    }
    const st = resizeState(pod);
    if (st.state === 'infeasible') return { kind: 'infeasible', why: `the kubelet refused the in-place resize of pod ${name} (${st.message})` };
    if (st.state !== 'none') waiting.push(`pod ${name}: resize ${st.state === 'deferred' ? 'deferred' : st.state === 'error' ? 'failed, retried by the kubelet' : 'in progress'}${st.message ? ` (${st.message})` : ''}`);
    else if (!applied) waiting.push(`pod ${name}: the kubelet to report the primary's resources`);
  }
  if (resize.length > 0) return { kind: 'resize', pods: resize };
  if (waiting.length > 0) return { kind: 'wait', why: waiting.sort().join('; ') };
  const replicas = i.standby.spec?.replicas ?? 1;
  const ready = live.filter(isPodReady).length;
  if (ready < replicas) return { kind: 'wait', why: `${ready} of ${replicas} standby pods Ready` };
  return { kind: 'done' };
}

/** Whether an API error refuses the resize itself (fall back to a rolling update) rather than being transient. */
function refusesResize(err: unknown): boolean {
  // 422: the request is invalid for this pod (a node without resize support, a QoS class change);
  // 403: the operator may not use pods/resize; 404/405: no such subresource after all.
  return err instanceof ApiError && [403, 404, 405, 422].includes(err.status);
}

const onTimeout = (why: string) => ({ growthFailed: `the standby did not reach the primary's requests and limits within promotion.stepTimeout: ${why}` });

/** The rolling update: patch the template while it is behind, then wait for its pods. */
async function growByRollingUpdate(i: GrowInput, act: ObjectActions): Promise<StepResult> {
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

const withNote = (r: StepResult, note: Readonly<Record<string, unknown>> | undefined): StepResult =>
  !note ? r : r.done ? { done: true, note: { ...note, ...r.note } } : { ...r, note: { ...note, ...r.note } };

const TEMPLATE_KEPT =
  "the pods were resized in place (no container restarted); the workload's pod template keeps the reduced resources (changing it would replace the pods), " +
  'and the operator resizes any pod it recreates while the standby serves';

/**
 * The Growing step's action. The method is chosen once and recorded (a note): InPlace when the
 * API server offers pods/resize, RollingUpdate otherwise or as soon as a resize is refused.
 */
export async function growStandby(i: GrowInput, act: ObjectActions, resizer: PodResizer | undefined): Promise<StepResult> {
  if (!i.primary) return doneWith({ growthFailed: "the primary workload is gone: its requests and limits, which the standby would grow to, are unknown" });
  const recorded = i.promotion?.growth;
  const rolling = (note: string | undefined): Promise<StepResult> =>
    growByRollingUpdate(i, act).then((r) => withNote(r, recorded === 'RollingUpdate' ? undefined : { growth: 'RollingUpdate' satisfies GrowthMethod, growthNote: note }));
  if (recorded === 'RollingUpdate') return rolling(undefined);
  if (!resizer) return rolling('the API server offers no pods/resize subresource (in-place pod resize): the pods are replaced');
  const note = recorded === 'InPlace' ? undefined : { growth: 'InPlace' satisfies GrowthMethod, growthNote: TEMPLATE_KEPT };
  const plan = inPlacePlan(i);
  switch (plan.kind) {
    case 'done':
      return withNote(DONE, note);
    case 'infeasible':
      return rolling(`${plan.why}: the pods are replaced instead`);
    case 'wait':
      return withNote({ done: false, waitingFor: plan.why, overrun: onTimeout(plan.why) }, note);
    case 'resize': {
      for (const pod of plan.pods) {
        try {
          await resizer.resize(i.site.metadata.namespace, pod.name, pod.ops);
        } catch (err) {
          if (refusesResize(err)) return rolling(`the API server refused the in-place resize of pod ${pod.name} (${(err as Error).message}): the pods are replaced instead`);
          const why = `could not resize pod ${pod.name}: ${(err as Error).message}`;
          return withNote({ done: false, waitingFor: why, overrun: onTimeout(why) }, note);
        }
      }
      const why = `pods ${plan.pods.map((p) => p.name).sort().join(', ')} resized in place to the primary's resources; the kubelet to apply them`;
      return withNote({ done: false, waitingFor: why, overrun: onTimeout(why) }, note);
    }
  }
}

/**
 * While a standby grown in place serves: a pod its controller recreated (from the template, which
 * kept the reduced resources) is resized to the primary's. Best effort; returns the pods resized.
 */
export async function keepGrown(i: GrowInput, resizer: PodResizer): Promise<string[]> {
  const plan = inPlacePlan(i);
  if (plan.kind !== 'resize') return [];
  for (const pod of plan.pods) await resizer.resize(i.site.metadata.namespace, pod.name, pod.ops);
  return plan.pods.map((p) => p.name);
}
