// The partition suite's checker, in the manner of Jepsen's: from the history of acknowledged
// writes that one client process made through the traffic path of every site, and the rows found
// afterwards, prove that no two sites accepted writes at overlapping times and that no
// acknowledged write was lost.
//
// Why "alternations": a write acknowledged by site X took effect at some instant between its send
// and its acknowledgement, as the client's single clock saw them. If write a (at X) was
// acknowledged before write b (at Y) was sent, a took effect first: a definite order. A chain of
// writes in definite order whose sites alternate X, Y, X, ... needs at least (length − 1) changes
// of writer in any history with one writer at a time. Each change of writer that the operators
// made is a recorded promotion or failback; a longest alternating chain that needs more changes
// than were recorded can only come from two sites accepting writes at once. The check never
// blames a correct history (an alternation needs a change of writer), and catches even one write
// an old primary accepted after the new one had accepted one (X, Y, X with one change recorded).

export interface Write {
  id: number;
  site: string;
  /** The client's monotonic clock, ms. */
  sentAt: number;
  ackedAt: number;
}

export interface WriterCheck {
  writes: number;
  /** The longest chain of writes in definite order whose sites alternate, as (site, id) pairs. */
  chain: { site: string; id: number }[];
  /** Changes of writer the chain needs, and how many the operators recorded. */
  needed: number;
  recorded: number;
  /** needed − recorded when positive: overlapping writers; 0 for a correct history. */
  overlapping: number;
}

/**
 * The longest alternating chain in O(n log n)-ish: writes sorted by send; a write's chain extends
 * the best chain, of another site, among writes acknowledged before it was sent. Keeps per site
 * the best chain seen so far, and the second site's best for when the best is of the same site.
 */
export function checkWriters(history: readonly Write[], recordedChanges: number): WriterCheck {
  const bySent = [...history].sort((a, b) => a.sentAt - b.sentAt || a.id - b.id);
  const byAcked = [...history].sort((a, b) => a.ackedAt - b.ackedAt || a.id - b.id);
  const best = new Map<number, { len: number; prev: Write | undefined }>();
  // The best chain ending in each site among the writes released so far (acked before the sweep point).
  const bestOfSite = new Map<string, { len: number; end: Write }>();
  let released = 0;
  let longest: { len: number; end: Write } | undefined;
  for (const w of bySent) {
    while (released < byAcked.length && byAcked[released]!.ackedAt < w.sentAt) {
      const r = byAcked[released++]!;
      const b = best.get(r.id)!;
      const cur = bestOfSite.get(r.site);
      if (!cur || b.len > cur.len) bestOfSite.set(r.site, { len: b.len, end: r });
    }
    let prev: { len: number; end: Write } | undefined;
    for (const [site, c] of bestOfSite) if (site !== w.site && (!prev || c.len > prev.len)) prev = c;
    const len = (prev?.len ?? 0) + 1;
    best.set(w.id, { len, prev: prev?.end });
    if (!longest || len > longest.len) longest = { len, end: w };
  }
  const chain: { site: string; id: number }[] = [];
  for (let w: Write | undefined = longest?.end; w; w = best.get(w.id)!.prev) chain.unshift({ site: w.site, id: w.id });
  const needed = Math.max(0, chain.length - 1);
  return { writes: history.length, chain, needed, recorded: recordedChanges, overlapping: Math.max(0, needed - recordedChanges) };
}

export interface LossCheck {
  acknowledged: number;
  /** Acknowledged ids on neither the surviving primary nor a kept divergent copy. */
  lost: number[];
  /** Acknowledged ids found only in a kept divergent copy (not lost, but not on the primary). */
  onlyDivergent: number[];
}

/** Every acknowledged write is on the surviving primary, or in a divergent copy the operator kept. */
export function checkLoss(history: readonly Write[], onPrimary: ReadonlySet<number>, inDivergentCopies: ReadonlySet<number>): LossCheck {
  const lost: number[] = [];
  const onlyDivergent: number[] = [];
  for (const w of history) {
    if (onPrimary.has(w.id)) continue;
    if (inDivergentCopies.has(w.id)) onlyDivergent.push(w.id);
    else lost.push(w.id);
  }
  return { acknowledged: history.length, lost: lost.sort((a, b) => a - b), onlyDivergent: onlyDivergent.sort((a, b) => a - b) };
}
