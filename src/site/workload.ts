// Reading the primary workload: its pod template, selector and volumes, the
// same way for a StatefulSet and a Deployment.
import type {
  V1Deployment,
  V1LabelSelector,
  V1PersistentVolumeClaim,
  V1Pod,
  V1PodTemplateSpec,
  V1StatefulSet,
  V1Volume,
} from '@kubernetes/client-node';

export type Workload = V1StatefulSet | V1Deployment;

export function isStatefulSet(w: Workload): w is V1StatefulSet {
  return w.kind === 'StatefulSet';
}

export function podTemplateOf(w: Workload): V1PodTemplateSpec {
  return w.spec?.template ?? {};
}

export function selectorOf(w: Workload): V1LabelSelector {
  return w.spec?.selector ?? {};
}

export function desiredReplicas(w: Workload): number {
  return w.spec?.replicas ?? 1;
}

/** One data volume of the primary: the pod-template volume name and the PVC behind it. */
export interface PrimaryVolume {
  /** The volume's name in the pod template (a volumeClaimTemplate name for a StatefulSet). */
  volume: string;
  /** The primary's PVC holding the data: ordinal 0's claim for a StatefulSet. */
  claim: string;
  /** The claim's spec, to give standby copies the same size, class and access modes. */
  template?: V1PersistentVolumeClaim | undefined;
}

/**
 * The primary's data volumes. A StatefulSet's come from its volumeClaimTemplates
 * (ordinal 0, the copy that DR restores); a Deployment's from the PVC volumes of
 * its pod template.
 */
export function primaryVolumes(w: Workload): PrimaryVolume[] {
  const name = w.metadata?.name ?? '';
  if (isStatefulSet(w)) {
    return (w.spec?.volumeClaimTemplates ?? []).map((t) => ({
      volume: t.metadata?.name ?? '',
      claim: `${t.metadata?.name ?? ''}-${name}-0`,
      template: t,
    }));
  }
  return (w.spec?.template.spec?.volumes ?? [])
    .filter((v) => v.persistentVolumeClaim?.claimName)
    .map((v) => ({ volume: v.name, claim: v.persistentVolumeClaim!.claimName }));
}

/** The PVC names a pod template mounts, by volume name. */
export function claimsOf(template: V1PodTemplateSpec | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of template?.spec?.volumes ?? []) {
    if (v.persistentVolumeClaim?.claimName) out[v.name] = v.persistentVolumeClaim.claimName;
  }
  return out;
}

/** The template with the given PVCs mounted as the volumes of those names (replacing what it had). */
export function mountClaims(template: V1PodTemplateSpec, claims: Readonly<Record<string, string>>): V1PodTemplateSpec {
  if (Object.keys(claims).length === 0) return template;
  const others = (template.spec?.volumes ?? []).filter((v) => !(v.name in claims));
  const claimVolumes: V1Volume[] = Object.entries(claims)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, claimName]) => ({ name, persistentVolumeClaim: { claimName } }));
  return { ...template, spec: { ...template.spec!, volumes: [...others, ...claimVolumes] } };
}

/** Whether labels satisfy a label selector (matchLabels and matchExpressions). */
export function matches(selector: V1LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  const ml = selector.matchLabels ?? {};
  const exprs = selector.matchExpressions ?? [];
  if (Object.keys(ml).length === 0 && exprs.length === 0) return false; // an empty selector selects nothing here
  for (const [k, v] of Object.entries(ml)) if (l[k] !== v) return false;
  for (const e of exprs) {
    const has = e.key in l;
    const value = l[e.key];
    switch (e.operator) {
      case 'In':
        if (!has || !(e.values ?? []).includes(value!)) return false;
        break;
      case 'NotIn':
        if (has && (e.values ?? []).includes(value!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

export function isPodReady(pod: V1Pod): boolean {
  if (pod.metadata?.deletionTimestamp) return false;
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** When the pod's Ready condition last changed, if known. */
export function readyTransition(pod: V1Pod): Date | undefined {
  const c = pod.status?.conditions?.find((x) => x.type === 'Ready');
  return c?.lastTransitionTime ? new Date(c.lastTransitionTime) : undefined;
}
