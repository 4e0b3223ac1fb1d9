// The re-protection state machine, as pure transitions on status.reprotection:
//   Preserving -> Seeding -> Following -> Protected, or -> Failed from any step.
// Preserving keeps a copy of what only the old side holds before anything overwrites it;
// Seeding makes it follow the side that serves (a rewind, a user's Job, or copies of the serving
// side); Following waits until it does. Driven by the same executor as promotions, so a restarted
// operator resumes it exactly once.
import type { ReprotectionStatus, Side, Trigger } from '../api/status.ts';
import { advanceOf, failOf, inProgressOf, type Procedure } from '../promotion/procedure.ts';

export type ReprotectStep = 'Preserving' | 'Seeding' | 'Following';

const STEPS: readonly ReprotectStep[] = ['Preserving', 'Seeding', 'Following'];

export const REPROTECTION: Procedure<ReprotectionStatus> = {
  steps: () => STEPS,
  done: 'Protected',
  describe(step, r) {
    const old = r.of === 'standby' ? 'the standby' : 'the old primary';
    switch (step) {
      case 'Preserving':
        return `keeping a copy of what only ${old} holds`;
      case 'Seeding':
        return `making ${old} follow the side that serves`;
      case 'Following':
        return `waiting until ${old} follows`;
      default:
        return `${old} follows the side that serves`;
    }
  },
};

export function beginReprotection(now: Date, of: Side, trigger: Trigger, token: string | undefined): ReprotectionStatus {
  const t = now.toISOString();
  return { state: 'Preserving', of, trigger, ...(token ? { token } : {}), startedAt: t, stepStartedAt: t, message: REPROTECTION.describe('Preserving', { of }) };
}

export function advanceReprotection(r: ReprotectionStatus, now: Date): ReprotectionStatus {
  return advanceOf(REPROTECTION, r, now);
}

export function failReprotection(r: ReprotectionStatus, now: Date, message: string): ReprotectionStatus {
  return failOf(r, now, message);
}

export function reprotecting(r: ReprotectionStatus | undefined): r is ReprotectionStatus & { state: ReprotectStep } {
  return inProgressOf(REPROTECTION, r);
}
