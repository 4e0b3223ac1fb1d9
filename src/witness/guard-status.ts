// The StandbySiteGuard's status as the primary's operator writes it: conditions LeaseHeld,
// WitnessReachable and SelfFenced (with observedGeneration), the lease as last seen, the failsafe
// ping and the fence. Pure; the loop writes it only when it differs from what was last written.
import type { GuardObject, GuardStatus } from '../api/guard.ts';
import type { GuardDecision, GuardState } from './guard.ts';

type Condition = NonNullable<GuardStatus['conditions']>[number];

export interface GuardFacts {
  state: GuardState;
  decision: GuardDecision;
  /** The renewal term is still running (renewedSentAt + leaseDuration − safetyMargin is ahead). */
  leaseFresh: boolean;
  lease: GuardStatus['lease'];
  ping: GuardStatus['ping'];
  fenced: GuardStatus['fenced'];
  /** Why the guard cannot fence although it should (a NetworkPolicy it did not create, no workload). */
  fenceProblem: string | undefined;
  /** The witness cannot be reached at all from its Secret (named field), not just a failed request. */
  configProblem: string | undefined;
}

function condition(type: string, ok: boolean | undefined, reason: string, message: string): Omit<Condition, 'lastTransitionTime'> {
  return { type, status: ok === undefined ? 'Unknown' : ok ? 'True' : 'False', reason, message: message.slice(0, 32_000) };
}

export function guardConditions(f: GuardFacts): Omit<Condition, 'lastTransitionTime'>[] {
  const s = f.state;
  const leaseHeld = s.lost
    ? condition('LeaseHeld', false, 'Lost', s.lost.message)
    : f.leaseFresh
      ? condition('LeaseHeld', true, 'Renewed', 'the lease on the witness is renewed in time')
      : s.renewedSentAt === undefined
        ? condition('LeaseHeld', false, 'NotRenewed', 'the lease has not been renewed since the guard started')
        : condition('LeaseHeld', false, 'Expired', `the lease was not renewed within leaseDuration − safetyMargin (${s.witnessError ?? 'no answer'})`);
  const reachable = f.configProblem
    ? condition('WitnessReachable', false, 'WitnessConfigInvalid', f.configProblem)
    : s.witnessError
      ? condition('WitnessReachable', false, 'RenewalFailed', s.witnessError)
      : s.renewedSentAt === undefined && !s.lost
        ? condition('WitnessReachable', undefined, 'NotYetAsked', 'no renewal answered yet')
        : condition('WitnessReachable', true, 'Answered', 'the witness answered the last request');
  const fenced = f.fenced
    ? condition('SelfFenced', true, s.lost ? 'LeaseLost' : 'NotConfirmed', f.fenced.reason)
    : f.fenceProblem
      ? condition('SelfFenced', false, 'FenceConflict', f.fenceProblem)
      : condition('SelfFenced', false, f.decision.serve ? (f.decision.by === 'failsafe' ? 'ConfirmedByStandby' : 'LeaseHeld') : 'NotFenced', f.decision.serve ? f.decision.reason : 'not fenced')
  return [leaseHeld, reachable, fenced];
}

/** The status to write; lastTransitionTime is kept from `prev` while a condition's status stays. */
export function guardStatus(g: GuardObject, f: GuardFacts, nowIso: string): GuardStatus {
  const prev = g.status?.conditions ?? [];
  const observedGeneration = g.metadata.generation ?? 0;
  const conditions = guardConditions(f).map((c) => {
    const before = prev.find((p) => p.type === c.type);
    return { ...c, observedGeneration, lastTransitionTime: before && before.status === c.status ? before.lastTransitionTime : nowIso };
  });
  return {
    observedGeneration,
    conditions,
    ...(f.lease ? { lease: f.lease } : {}),
    ...(f.ping ? { ping: f.ping } : {}),
    ...(f.fenced ? { fenced: f.fenced } : {}),
  };
}

/** Whether two statuses say the same (key order aside). */
export function sameStatus(a: GuardStatus | undefined, b: GuardStatus | undefined): boolean {
  return canonical(a ?? {}) === canonical(b ?? {});
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
