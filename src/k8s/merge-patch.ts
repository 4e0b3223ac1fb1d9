// The smallest JSON merge patch (RFC 7386) that turns `from` into `to`:
// removed keys become null, changed objects recurse, arrays are replaced.

type Json = unknown;

function isPlainObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function equal(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => equal(a[k], b[k]));
  }
  return false;
}

/** Returns undefined when nothing differs. */
export function mergePatchFor(from: Json, to: Json): Json {
  if (!isPlainObject(from) || !isPlainObject(to)) return equal(from, to) ? undefined : to;
  const patch: Record<string, Json> = {};
  for (const [k, v] of Object.entries(to)) {
    if (v === undefined) continue;
    if (!(k in from) || from[k] === undefined) {
      patch[k] = v;
      continue;
    }
    const sub = mergePatchFor(from[k], v);
    if (sub !== undefined) patch[k] = sub;
  }
  for (const k of Object.keys(from)) {
    if (from[k] !== undefined && (!(k in to) || to[k] === undefined)) patch[k] = null;
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}

export { equal as jsonEqual };
