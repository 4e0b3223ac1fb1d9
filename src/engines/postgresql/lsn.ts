// WAL positions (pg_lsn, "16/B374D848") as numbers, and timeline history
// files, for the decisions of re-protection and failback. Pure.

/** A pg_lsn as a byte position; undefined when the text is not one. */
export function parseLsn(text: string | null | undefined): bigint | undefined {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text ?? '');
  if (!m) return undefined;
  return (BigInt(`0x${m[1]!}`) << 32n) + BigInt(`0x${m[2]!}`);
}

/** Bytes from `from` to `to` (negative when `to` is before `from`); undefined when either is not a pg_lsn. */
export function lsnDiff(to: string | null | undefined, from: string | null | undefined): number | undefined {
  const a = parseLsn(to);
  const b = parseLsn(from);
  return a === undefined || b === undefined ? undefined : Number(a - b);
}

/** One line of a timeline history file: timeline `parent` ended (and the next began) at `switchLsn`. */
export interface HistoryEntry {
  parent: number;
  switchLsn: string;
}

/** The entries of a timeline history file ("1\t0/3000158\tno recovery target specified" per line). */
export function parseHistory(text: string | null | undefined): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [tli, lsn] = line.trim().split(/\s+/);
    if (tli && /^\d+$/.test(tli) && parseLsn(lsn) !== undefined) out.push({ parent: Number(tli), switchLsn: lsn! });
  }
  return out;
}

/** Where a server whose history this is left `timeline`: the fork point of a server still on it; undefined if it never was on it. */
export function forkPoint(history: readonly HistoryEntry[], timeline: number): string | undefined {
  return history.find((e) => e.parent === timeline)?.switchLsn;
}
