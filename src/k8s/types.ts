// Minimal shapes of API objects. The kinds' own types come from kubernetes-models (issue #11),
// still from @kubernetes/client-node where not yet moved.
import type { IObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1';

/**
 * The metadata the generic layer reads and writes, by the API's own shape. The timestamps are
 * unknown here, not Date: the API sends strings, client-node's models (still in use) say Date,
 * and objects of both must fit; a kind's own type says which, read with toDate(). Once no
 * client-node model is left they become the models' string (issue #11). managedFields is only
 * ever dropped (informer.ts).
 */
export type KubeMeta = Omit<IObjectMeta, 'creationTimestamp' | 'deletionTimestamp' | 'managedFields'> & {
  creationTimestamp?: unknown;
  deletionTimestamp?: unknown;
  managedFields?: unknown[];
};

/** Any API object; metadata is optional as in both the models' and client-node's types. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: KubeMeta;
}

export interface ObjectList<T> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string };
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

/** Structural, so objects of either model type fit. */
interface Named {
  metadata?: { name?: string | undefined; namespace?: string | undefined } | undefined;
}

/** namespace/name, the key of the work queue and of every cache. */
export function keyOf(obj: Named): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}

export function nameOf(obj: Named): string {
  return obj.metadata?.name ?? '';
}

/** Kubernetes timestamps arrive as RFC 3339 strings (the models say so; client-node's type them as Date). */
export function toDate(value: Date | string | undefined | null): Date | undefined {
  if (value === undefined || value === null) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** A shallow read-only view: cached objects are shared and must never be mutated. */
export type Cached<T> = Readonly<T>;

/** RFC 3339 with microseconds, as metav1.MicroTime wants (a Lease's renewTime). */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
