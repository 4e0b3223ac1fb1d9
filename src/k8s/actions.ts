// What code that changes the cluster on a reconcile's behalf needs: writes by object, reads from
// a cache. The controller implements it over its client and informers; step actions (fencing,
// traffic, promotion) are written against it, so they hold no client and no cache of their own.
import type { KubeObject } from './types.ts';

export interface ObjectActions {
  /** Server-side apply; skipped when the cached object already matches. */
  apply(obj: KubeObject): Promise<void>;
  /**
   * Replaces the whole object (PUT, with the cached object's resourceVersion as precondition):
   * unlike an apply, it also removes fields other managers added. Creates it when none is cached.
   */
  replace(obj: KubeObject): Promise<void>;
  /** Creates the object unless one of that name exists; returns what is there now. */
  ensure<T extends KubeObject>(obj: T): Promise<T>;
  /** JSON merge patch (RFC 7386) of an object by kind and name. */
  patch(kind: string, namespace: string, name: string, patch: unknown): Promise<void>;
  /** JSON patch (RFC 6902) of an object by kind and name. */
  jsonPatch(kind: string, namespace: string, name: string, ops: unknown[]): Promise<void>;
  /**
   * Deletes an object, only if it is the one of that UID (when given; gone already is fine). `theirs`: the object is not
   * the caller's own (a documented data-path exception: the caller says why in a comment).
   */
  remove(kind: string, namespace: string, name: string, opts?: { uid?: string | undefined; theirs?: boolean }): Promise<void>;
  /** The cached object of that kind and name, if any. */
  cached<T extends KubeObject>(kind: string, namespace: string, name: string): T | undefined;
}
