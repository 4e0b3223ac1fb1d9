// Kubernetes resource quantities ("500m", "1Gi", "1e3", "129M") as numbers.
//
// Written by hand: no npm package parses them, and @kubernetes/client-node's quantityToScalar
// throws on decimals with a suffix ("1.5Gi", legal and common), returns number or bigint by
// suffix, and has no exponent form beyond what Number() happens to accept. The grammar is
// apimachinery's resource.Quantity: <signedNumber><suffix>, suffix one of the binary SI (Ki..Ei),
// the decimal SI (n, u, m, "", k, M, G, T, P, E) or a decimal exponent (e3, E-2).

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

const FORM = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|[numkMGTPE]?)$/;

/** The value of a quantity (cores, bytes, ...), or undefined when it is not one. */
export function parseQuantity(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined;
  if (typeof q === 'number') return Number.isFinite(q) ? q : undefined;
  const m = FORM.exec(q.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const suffix = m[2] ?? '';
  // "1E" is exa; "1E3" is an exponent (apimachinery reads them the same way).
  const factor = BINARY[suffix] ?? DECIMAL[suffix] ?? 10 ** Number(suffix.slice(1));
  const v = n * factor;
  return Number.isFinite(v) ? v : undefined;
}

/**
 * `value × scale` rounded up to a whole number, as apimachinery's Value() and MilliValue() round:
 * the tiny float error of a decimal ("0.1" × 1000 = 100.00000000000001) is not a unit more.
 */
export function ceilScaled(value: number, scale = 1): number {
  const units = value * scale;
  return Math.ceil(units - Math.abs(units) * 1e-12);
}

/** Millicores of a CPU quantity (0 when absent or malformed). */
export function millicores(q: string | number | undefined): number {
  const v = parseQuantity(q);
  return v === undefined ? 0 : ceilScaled(v, 1000);
}

/** Whole bytes of a memory or storage quantity (0 when absent or malformed). */
export function bytes(q: string | number | undefined): number {
  const v = parseQuantity(q);
  return v === undefined ? 0 : ceilScaled(v);
}
