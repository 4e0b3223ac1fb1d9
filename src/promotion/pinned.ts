// Once a promotion has begun, the standby that takes (or took) over is the service: spec changes
// that would rebuild it for another tier, or lift the fence by switching the fencing method,
// are not applied to it. This is the pure part: what the reconcile runs with, and what it says.
import type { SiteSpec } from '../api/spec.ts';
import type { PromotionStatus } from '../api/status.ts';

export interface PinnedSpec {
  /** The spec to reconcile with: the recorded tier and fencing method where the spec changed them. */
  spec: SiteSpec;
  /**
   * The recorded tier cannot be rebuilt from the spec (its block is gone): only the traffic Service
   * and the fence are kept; nothing is changed or removed.
   */
  frozen: boolean;
  /** What was not applied and why, for an Event; undefined when nothing was. */
  ignored: string | undefined;
}

export function pinToPromotion(spec: SiteSpec, promotion: PromotionStatus | undefined): PinnedSpec {
  // A failed promotion leaves the decision to a person, who may change the spec to recover.
  if (!promotion?.state || promotion.state === 'Failed') return { spec, frozen: false, ignored: undefined };
  const notes: string[] = [];
  let out = spec;
  let frozen = false;
  if (promotion.fencing && promotion.fencing !== spec.promotion.fencing) {
    notes.push(`promotion.fencing ${spec.promotion.fencing} (the fence stays ${promotion.fencing})`);
    out = { ...out, promotion: { ...out.promotion, fencing: promotion.fencing } };
  }
  if (promotion.tier && promotion.tier !== spec.tier) {
    // Only with its own block: hot's defaults (1 replica) would scale a larger standby down.
    const rebuildable = spec[promotion.tier] !== undefined;
    notes.push(`tier ${spec.tier} (the standby stays as the ${promotion.tier} tier made it${rebuildable ? '' : `; spec.${promotion.tier} is gone, so nothing of it is changed`})`);
    if (rebuildable) out = { ...out, tier: promotion.tier };
    else frozen = true;
  }
  return {
    spec: out,
    frozen,
    ignored: notes.length
      ? `a promotion began (${promotion.state}): not applied: ${notes.join('; ')}. Make the standby the new primary in your manifests and create a new StandbySite for it`
      : undefined,
  };
}
