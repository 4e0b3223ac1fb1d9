// The engine interface: everything that depends on what runs inside the
// workload. The tiers and the controller call only this; a new engine (Redis,
// MySQL) is a new module registered in registry.ts, nothing else changes.
import type { V1PodTemplateSpec, V1Service } from '@kubernetes/client-node';
import type { StandbySite } from '../api/site.ts';
import type { Tier } from '../api/spec.ts';
import type { KubeObject } from '../k8s/types.ts';
import type { PrimaryVolume, Workload } from '../site/workload.ts';

/** What an engine knows about the site it serves. */
export interface EngineContext {
  site: StandbySite;
  tier: Tier;
  primary: Workload;
  primaryService: V1Service | undefined;
  volumes: readonly PrimaryVolume[];
  /** The operator's own image, for Jobs that run the operator's subcommands. */
  operatorImage: string;
}

/** What the engine measured of the running standby (hot) or the primary. */
export interface EngineObservation {
  /** Replication lag of the standby in seconds, when the engine measures it. */
  lagSeconds?: number;
  /** Whether the standby streams from the primary right now. */
  streaming?: boolean;
  /** A sentence for conditions when something is wrong (unreachable, bad credentials). */
  problem?: string;
}

/** Reads that an engine may need; provided by the controller from its caches and the API. */
export interface EngineIO {
  secret(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** Ready addresses (ip) behind a Service right now, from its EndpointSlices. */
  endpoints(namespace: string, service: string): Promise<string[]>;
}

export interface Engine {
  readonly type: string;
  /** Whether the engine measures replication lag (hot tier); generic standbys have no lag to show. */
  readonly measuresLag: boolean;
  /** Adjusts the standby's pod template (e.g. env, a bootstrap init container). */
  standbyTemplate(ctx: EngineContext, template: V1PodTemplateSpec): V1PodTemplateSpec;
  /**
   * The pod template of a Job that fills fresh standby volumes from the primary
   * (warm method engine). Volumes named like the primary's are mounted for it.
   */
  copyTemplate(ctx: EngineContext): V1PodTemplateSpec | undefined;
  /** The pod template of the cold tier's scheduled Job for method engine (e.g. a logical dump). */
  dumpTemplate(ctx: EngineContext): V1PodTemplateSpec | undefined;
  /** The pod template of a Job that restores the newest dump into fresh standby volumes (cold method engine). */
  restoreTemplate(ctx: EngineContext): V1PodTemplateSpec | undefined;
  /** The pod template of a Job that promotes a running hot standby; undefined when switching traffic is enough. */
  promoteTemplate(ctx: EngineContext): V1PodTemplateSpec | undefined;
  /** Objects the engine owns besides the tier's (e.g. a headless Service for the standby, a PVC for dumps); applied with them. */
  objects?(ctx: EngineContext): KubeObject[];
  /**
   * Labels that narrow the traffic selector to the pods that were promoted, when only some
   * standby pods take over (PostgreSQL promotes replica 0; the others keep following).
   */
  promotedSelector?(ctx: EngineContext): Record<string, string>;
  /**
   * Drills (src/drill/): the pod template of a Job that fills a drill's scratch volumes (mounted
   * under the primary's volume names) from the running hot standby, instead of snapshotting its
   * volumes. PostgreSQL: a base backup taken from the standby, so the primary does no extra work.
   */
  drillCopyTemplate?(ctx: EngineContext): V1PodTemplateSpec | undefined;
  /** The pod template a drill's scratch workload runs, from the standby's; default: standbyTemplate. */
  drillTemplate?(ctx: EngineContext, template: V1PodTemplateSpec): V1PodTemplateSpec;
  /**
   * The pod template of a Job that checks a drill's scratch copy once it is Ready, at $DRILL_HOST.
   * Its container may end with the termination message `newest-commit=<RFC 3339 time>`: the newest
   * committed transaction the copy holds, for status.lastDrill.
   */
  verifyTemplate?(ctx: EngineContext): V1PodTemplateSpec | undefined;
  /** Problems with references only the engine understands (a missing Secret key...). */
  check(ctx: EngineContext, io: EngineIO): Promise<string[]>;
  /** Measures the standby; never throws (problems are reported in the result). */
  observe(ctx: EngineContext, io: EngineIO): Promise<EngineObservation>;
}
