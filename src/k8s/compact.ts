// Making cached objects small. An object fresh from JSON.parse keeps its own copy of every string
// (V8 shares only strings shorter than 10 characters), and an object that lost a property to
// `delete` falls back to a dictionary of its properties, several times larger. Caches hold
// thousands of objects that repeat the same labels, names, messages and timestamps, so they keep
// a compact copy instead: rebuilt as plain objects and arrays, every string shared.
//
// Written by hand: no library does this; it is V8's own string table put to use.

/** Strings this short are already shared by V8's JSON parser. */
const PARSER_SHARES_BELOW = 10;

/**
 * One copy of a string per content. V8 internalizes the keys of an object: the key read back
 * is the string table's copy, which every equal key shares. The table holds its strings weakly,
 * so a string no cached object uses any more is collected as usual.
 */
export function intern(s: string): string {
  if (s.length < PARSER_SHARES_BELOW) return s;
  const holder: Record<string, true> = Object.create(null) as Record<string, true>;
  holder[s] = true;
  for (const key in holder) return key;
  return s;
}

/**
 * A deep copy made of fresh plain objects and arrays, with shared strings and without undefined
 * properties: what a cache keeps. Only JSON values are expected (objects from the API).
 */
export function compact<T>(value: T): T {
  return copy(value) as T;
}

function copy(v: unknown): unknown {
  if (typeof v === 'string') return intern(v);
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(copy);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x !== undefined) out[k] = copy(x);
  }
  return out;
}
