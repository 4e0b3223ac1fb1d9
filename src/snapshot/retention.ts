// Which snapshot sets to delete. Rules, in order:
// 1. the newest ready set is never deleted, whatever keepLast or maxAge say;
// 2. ready sets beyond keepLast (newest first) or older than maxAge go;
// 3. sets that never became ready (a failed or abandoned run) go once a newer
//    set is ready or they are older than the stale limit, so partial failures
//    never pile up; a run still in progress is left alone.

export interface RetentionPolicy {
  keepLast?: number | undefined;
  maxAgeMs?: number | undefined;
}

export interface RetentionInput {
  run: string;
  time: Date;
  ready: boolean;
}

export interface RetentionDecision {
  delete: string[];
  keep: string[];
}

export function applyRetention(
  sets: readonly RetentionInput[],
  policy: RetentionPolicy,
  now: Date,
  staleAfterMs: number,
): RetentionDecision {
  const sorted = [...sets].sort((a, b) => b.time.getTime() - a.time.getTime());
  const newestReady = sorted.find((s) => s.ready);
  const out: RetentionDecision = { delete: [], keep: [] };
  let readySeen = 0;
  for (const s of sorted) {
    const age = now.getTime() - s.time.getTime();
    if (s === newestReady) {
      readySeen++;
      out.keep.push(s.run);
      continue;
    }
    if (s.ready) {
      readySeen++;
      const overCount = policy.keepLast !== undefined && readySeen > policy.keepLast;
      const tooOld = policy.maxAgeMs !== undefined && age > policy.maxAgeMs;
      (overCount || tooOld ? out.delete : out.keep).push(s.run);
      continue;
    }
    const superseded = newestReady !== undefined && s.time < newestReady.time;
    (superseded || age > staleAfterMs ? out.delete : out.keep).push(s.run);
  }
  return out;
}
