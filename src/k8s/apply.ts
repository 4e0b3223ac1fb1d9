// Deciding whether an apply is needed, so that a converged site costs no writes.
// The desired object carries a hash of itself; it is applied when the live
// object lacks that hash (the desired state changed) or no longer holds every
// desired field (someone changed a field the operator owns).
import { createHash } from 'node:crypto';
import type { KubeObject } from './types.ts';

/**
 * The annotation that carries the hash. It belongs to this layer (as kubectl's
 * last-applied-configuration belongs to kubectl); site/names.ts re-exports it
 * with the other names, and a caller may pass its own.
 */
export const ANNOTATION_APPLIED = 'standby.dev/applied';

export function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stable(v)}`).join(',')}}`;
  }
  return value === undefined ? 'null' : JSON.stringify(value);
}

export function hashOf(value: unknown): string {
  return createHash('sha256').update(stable(value)).digest('hex').slice(0, 16);
}

/** Returns the object with its applied-hash annotation set. */
export function stamped<T extends KubeObject>(obj: T, annotation = ANNOTATION_APPLIED): T {
  const hash = hashOf(obj);
  return {
    ...obj,
    metadata: { ...obj.metadata, annotations: { ...obj.metadata?.annotations, [annotation]: hash } },
  };
}

/** Whether every field of `want` is present with the same value in `have`. */
export function isSubset(want: unknown, have: unknown): boolean {
  if (want === undefined) return true;
  if (want === null || typeof want !== 'object') {
    if (typeof want === 'number' && typeof have === 'string') return String(want) === have;
    return want === have;
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(have) || have.length !== want.length) return false;
    return want.every((w, i) => isSubset(w, have[i]));
  }
  if (!have || typeof have !== 'object' || Array.isArray(have)) return false;
  const h = have as Record<string, unknown>;
  return Object.entries(want as Record<string, unknown>).every(([k, v]) => isSubset(v, h[k]));
}

/** Whether a stamped desired object must be applied over the live one. */
export function needsApply(desired: KubeObject, live: KubeObject | undefined, annotation = ANNOTATION_APPLIED): boolean {
  if (!live) return true;
  const want = desired.metadata?.annotations?.[annotation];
  if (!want || live.metadata?.annotations?.[annotation] !== want) return true;
  const { metadata: dm, ...dRest } = desired;
  const { metadata: lm, ...lRest } = live;
  return !isSubset(dRest, lRest) || !isSubset({ labels: dm?.labels, ownerReferences: dm?.ownerReferences }, lm);
}
