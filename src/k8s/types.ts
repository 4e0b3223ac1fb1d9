// Minimal shapes of API objects; the typed models come from @kubernetes/client-node.
import type { V1ObjectMeta } from '@kubernetes/client-node';

/** Any API object; metadata is optional only to match @kubernetes/client-node's models. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
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

/** namespace/name, the key of the work queue and of every cache. */
export function keyOf(obj: { metadata?: V1ObjectMeta | undefined }): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}

export function nameOf(obj: { metadata?: V1ObjectMeta | undefined }): string {
  return obj.metadata?.name ?? '';
}

/** Kubernetes timestamps arrive as RFC 3339 strings (client-node's models type them as Date). */
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
