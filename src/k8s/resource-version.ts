// Comparing resourceVersions, for waiting until a cache has caught up with our own writes.
/**
 * Whether resourceVersion `a` is older than `b`. They are opaque to clients, but every API server
 * backed by etcd gives increasing integers; anything else is treated as not older (no waiting).
 */
export function olderThan(a: string | undefined, b: string): boolean {
  if (a === undefined || !/^\d{1,30}$/.test(a) || !/^\d{1,30}$/.test(b)) return false;
  return BigInt(a) < BigInt(b);
}
