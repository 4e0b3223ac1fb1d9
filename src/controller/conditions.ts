// metav1.Condition bookkeeping: lastTransitionTime moves only when the status
// changes, observedGeneration always says which spec the condition is about.
import type { Condition, ConditionType } from '../api/status.ts';

export interface ConditionInput {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export function mergeConditions(
  previous: readonly Condition[] | undefined,
  next: readonly ConditionInput[],
  generation: number,
  now: Date,
): Condition[] {
  const prev = new Map((previous ?? []).map((c) => [c.type, c]));
  return next.map((c) => {
    const old = prev.get(c.type);
    return {
      type: c.type,
      status: c.status,
      observedGeneration: generation,
      lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : now.toISOString(),
      reason: c.reason,
      message: c.message.slice(0, 32768),
    };
  });
}

export function findCondition(list: readonly Condition[] | undefined, type: ConditionType): Condition | undefined {
  return list?.find((c) => c.type === type);
}
