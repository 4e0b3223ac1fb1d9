// What computeStatus (status.ts) and the condition functions read: the site's observed facts and
// the decisions this reconcile took. Its own file, so that the rooms computing parts of the status
// (phase.ts, rpo.ts, health-conditions.ts, promotion-conditions.ts) share it without a cycle.
import type { SiteSpec } from '../api/spec.ts';
import type { PromotionRecord, PromotionStatus, Side, SiteCost, SiteStatus } from '../api/status.ts';
import type { Decision, StandbyUsability } from '../promotion/decide.ts';
import type { PrimaryAssessment } from '../promotion/detect.ts';
import type { ConditionInput } from './conditions.ts';
import type { Blocked } from './ownership.ts';
import type { FailbackDecision } from '../failback/decide.ts';
import type { Lifecycle } from '../promotion/lifecycle.ts';
import type { ReprotectDecision } from '../reprotect/decide.ts';

export interface CopyJobSummary {
  succeeded: boolean;
  finished: Date;
  message: string;
}

export interface StatusInput {
  now: Date;
  spec: SiteSpec;
  generation: number;
  previous: SiteStatus;
  primary: PrimaryAssessment;
  /** Things that stop the site from being protected that only the controller can see (bad references). */
  problems: readonly string[];
  /** Of those, the ones nothing fixes but a person (a missing workload, Service or Secret): Stalled. */
  stalling: readonly string[];
  /** The site does not act at all: its workload is another site's, or a name it writes is taken. */
  blocked?: Blocked | undefined;
  standby: {
    name: string | undefined;
    exists: boolean;
    readyReplicas: number;
    replicas: number;
    created: Date | undefined;
    /** While it serves: since when it has had no Ready pod. */
    notReadySince?: Date | undefined;
  };
  measuresLag: boolean;
  lagSeconds: number | undefined;
  engineProblem: string | undefined;
  /** A warm standby's copy claim deleted outside the operator: what was lost and what happens next (copies/lost.ts). */
  lostCopy?: string | undefined;
  /** How the standby's pod template was adjusted from the primary's (hostNetwork, hostPort), if it was. */
  standbyAdjusted?: string | undefined;
  /** When the data of the newest usable copy was captured (warm/cold). */
  dataTime: Date | undefined;
  lastSnapshotTime: Date | undefined;
  snapshots: number | undefined;
  lastSync: { time: Date; durationMs: number | undefined } | undefined;
  nextSyncTime: Date | undefined;
  lastCopyJob: CopyJobSummary | undefined;
  usability: StandbyUsability;
  decision: Decision;
  promotion: PromotionStatus | undefined;
  /** Where in the DR cycle the site stands (after this reconcile's procedures). */
  lifecycle: Lifecycle;
  /** What re-protection would do now, and why (for the conditions while the standby serves). */
  reprotect?: ReprotectDecision | undefined;
  /** What a failback would do now, and why (while the standby serves). */
  failback?: FailbackDecision | undefined;
  history: readonly PromotionRecord[];
  handledToken: string | undefined;
  /** The last standby.dev/abandon token acted on (kept as written). */
  handledAbandonToken?: string | undefined;
  active: Side;
  trafficService: string | undefined;
  fencing: { holds: boolean; reason: string; message: string } | undefined;
  /** What the drill part of the reconcile says (controller/drill.ts): its status fields, carried as they are, and DrillPassed. */
  drill?: { fields: Partial<SiteStatus>; condition: ConditionInput } | undefined;
  /** After the promotion: whether the clients' Service selects the promoted standby. */
  traffic?: { holds: boolean; reason: string; message: string } | undefined;
  /** What the protection costs (cost/site-cost.ts). */
  cost?: SiteCost | undefined;
}
