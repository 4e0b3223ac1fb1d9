// What the tier builders see: the validated site and what the controller
// observed of the primary, plus the decisions already taken (active side,
// promotion state, which copy the standby uses). Builders are pure.
import type { V1PersistentVolumeClaim, V1Service } from '@kubernetes/client-node';
import type { StandbySite } from '../api/site.ts';
import type { GrowthMethod, PromotionState, Side } from '../api/status.ts';
import type { Engine } from '../engines/engine.ts';
import type { PrimaryVolume, Workload } from '../site/workload.ts';
import type { KubeObject } from '../k8s/types.ts';

export interface BuildContext {
  site: StandbySite;
  primary: Workload;
  primaryService: V1Service | undefined;
  volumes: readonly PrimaryVolume[];
  /** The primary's PVCs by claim name, for the size/class/access modes of copies. */
  primaryClaims: ReadonlyMap<string, V1PersistentVolumeClaim>;
  engine: Engine;
  operatorImage: string;
  /** Pull secrets for the copy Jobs' ServiceAccount (the operator's image may be private). */
  imagePullSecrets?: readonly string[];
  active: Side;
  promotion: PromotionState | undefined;
  /** The standby's data volumes by pod-template volume name (warm/cold), when a complete copy exists. */
  copyClaims: Record<string, string> | undefined;
  /** Label keys Services of the namespace select on: the standby's pods carry none of them. */
  avoidLabels?: ReadonlySet<string> | undefined;
  /**
   * Which side is fenced, and how: `closed` (nothing in or out) or `narrow` (only traffic with
   * the other side, for replication, and DNS). The controller decides from the DR cycle.
   */
  fences?: { primary?: FenceShape | undefined; standby?: FenceShape | undefined } | undefined;
  /** The epoch of the site's last failback, if any: the standby's pods carry it (see standbyFor). */
  epoch?: number | undefined;
  /**
   * Failed back, but the standby's re-protection has not kept what it held yet: nothing may
   * restart its pods, so it keeps the size it served at (and its epoch label, see `epoch`).
   */
  keepPods?: boolean | undefined;
  /** How the promotion in effect grows a reduced standby (status.promotion.growth), once chosen. */
  growth?: GrowthMethod | undefined;
}

export type FenceShape = 'closed' | 'narrow';

/**
 * Whether a promotion has begun (from Fencing on, including one that Failed):
 * copies stop, the standby's data is frozen and the fence stays up until a
 * person decides what happens next.
 */
export function promotionStarted(ctx: BuildContext): boolean {
  return ctx.promotion !== undefined;
}

/** Whether the standby must run: the promotion is past fencing, or it is the active side. */
export function standbyMustRun(ctx: BuildContext): boolean {
  return ctx.active === 'standby' || ctx.promotion === 'Promoting' || ctx.promotion === 'Switching' || ctx.promotion === 'Growing' || ctx.promotion === 'Promoted';
}

export type Desired = KubeObject;
