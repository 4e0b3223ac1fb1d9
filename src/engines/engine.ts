// The engine interface: everything that depends on what runs inside the
// workload. The tiers and the controller call only this; a new engine (Redis,
// MySQL) is a new module registered in registry.ts, nothing else changes.
import type { V1PodTemplateSpec, V1Service } from '@kubernetes/client-node';
import type { StandbySite } from '../api/site.ts';
import type { Tier } from '../api/spec.ts';
import type { Side } from '../api/status.ts';
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
  /**
   * Which side serves clients now (status.active): the declared primary (the default) or, after a
   * failover, the operator's standby. observe() measures the serving side's replication to the
   * other; divergence(), caughtUp() and setWritable() read it to know which side is which.
   */
  serving?: Side;
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

/** The old primary's volumes that re-protection turns into a standby of the serving side. */
export interface ReprotectTarget {
  /** The old primary's PVCs by the pod template's volume name (for a StatefulSet, ordinal 0's). */
  claims: Readonly<Record<string, string>>;
}

/** What only the old primary holds: data written after the serving side took over, lost to it. */
export interface Divergence {
  /** Where it begins and ends, in the engine's positions (PostgreSQL: LSNs on the old primary's timeline); absent when unknown. */
  from?: string;
  to?: string;
  /** How much (PostgreSQL: bytes of WAL, so a restart's checkpoint counts too); absent when unknown. */
  bytes?: number;
  /** The old primary's timeline (PostgreSQL). */
  timeline?: number;
  /** Whether the old primary can be rewound (only what changed is copied back) rather than copied whole. */
  rewindable?: boolean;
  /** A sentence for status and the Event, also saying why something is unknown. */
  message: string;
}

/** Whether a failback may promote the other side: it has everything the serving side committed. */
export interface CaughtUp {
  caughtUp: boolean;
  message: string;
  /** Where the serving side's WAL ends (PostgreSQL: its flush LSN, read after writes stopped). */
  servingLsn?: string;
  /** How far the side that takes over has replayed (PostgreSQL: its replay LSN). */
  replayLsn?: string;
}

/** The outcome of setWritable. */
export interface WriteSwitch {
  ok: boolean;
  message: string;
  /** Client sessions ended so that none is left inside a write transaction. */
  terminated?: number;
}

/** What a re-protect Job (or a standby's re-protecting bootstrap) did, from its termination message. */
export interface ReprotectReport {
  /** rewind: only what diverged was copied back; basebackup: the whole database was copied; none: nothing needed copying. */
  method: 'rewind' | 'basebackup' | 'none';
  /** Bytes moved (PostgreSQL: pg_rewind's copied kB, or the size of the fresh copy). */
  bytes?: number;
  /** Why it did not rewind (or did nothing). */
  reason?: string;
  /** What only the rewound side held, from its data directory, before it was discarded. */
  divergence?: Divergence & { commits?: number };
  seconds?: number;
  /** One sentence for status and the Event. */
  message: string;
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
  /** Problems with references only the engine understands (a missing Secret key...). */
  check(ctx: EngineContext, io: EngineIO): Promise<string[]>;
  /** Measures the standby; never throws (problems are reported in the result). */
  observe(ctx: EngineContext, io: EngineIO): Promise<EngineObservation>;

  // ---- Re-protection and failback (hot tier). Absent: the engine has none (the generic engine's
  // user Job templates stand in). The operator keeps the divergence copy before any of them runs.

  /**
   * The pod template of the re-protect Job: with the old primary stopped (scaled to 0) and its
   * volumes mounted (target.claims), it makes them a standby of the serving side, so that the
   * primary's own, unchanged pod template starts as that standby when scaled back up. It reports
   * through its termination message (see reprotectReport).
   */
  reprotectTemplate?(ctx: EngineContext, target: ReprotectTarget): V1PodTemplateSpec | undefined;
  /**
   * The pod template of the failback's promote Job: promotes the re-protected primary (the
   * serving side fenced, caughtUp true). The standby becomes a standby again when its pods
   * restart (the standby template's bootstrap sees that the primary took over from it).
   */
  failbackTemplate?(ctx: EngineContext): V1PodTemplateSpec | undefined;
  /** What only the side that is not serving holds (read before re-protection); never throws. */
  divergence?(ctx: EngineContext, io: EngineIO): Promise<Divergence>;
  /** Whether the side that is not serving has everything the serving side flushed (after writes stopped); never throws. */
  caughtUp?(ctx: EngineContext, io: EngineIO): Promise<CaughtUp>;
  /**
   * Stops (false) or resumes (true) writes on the serving side inside the server, whatever the
   * network fence lets through on connections it does not cut; never throws.
   */
  setWritable?(ctx: EngineContext, io: EngineIO, writable: boolean): Promise<WriteSwitch>;
  /** Reads the report of a re-protect Job or re-protecting init container from its termination message; undefined if it has none. */
  reprotectReport?(terminationMessage: string): ReprotectReport | undefined;
}
