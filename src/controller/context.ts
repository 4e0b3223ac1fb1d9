// What the parts of one reconcile share: the operator's dependencies, the site being reconciled,
// the newest copy of it (our own writes move it on), and what the reconcile collects on the way
// (errors to report, times to come back).
import type { Logger } from 'pino';
import type { StandbySite, StandbySiteObject } from '../api/site.ts';
import type { EngineIO } from '../engines/engine.ts';
import type { KubeClient } from '../k8s/client.ts';
import type { EventRecorder } from '../k8s/events.ts';
import type { RemoteClusters } from '../remote/registry.ts';
import type { Caches } from './caches.ts';
import type { RemotePrimary } from './remote.ts';
import type { SiteMemory } from './memory.ts';
import type { ControllerMetrics } from './metrics.ts';

export interface ReconcilerDeps {
  client: KubeClient;
  caches: Caches;
  events: EventRecorder;
  log: Logger;
  operatorImage: string;
  imagePullSecrets?: readonly string[] | undefined;
  isLeader: () => boolean;
  engineIO: EngineIO;
  metrics?: ControllerMetrics | undefined;
  now?: () => Date;
  /** How often a hot standby's lag is measured (engines that measure it). */
  lagProbeMs?: number;
  /** Test hook: exit the process right after this promotion step is recorded as done. */
  exitAfterStep?: string | undefined;
  /** The primary clusters of sites whose primary is in another cluster (spec.primary.cluster). */
  remote?: RemoteClusters | undefined;
}

export interface ReconcileContext {
  readonly deps: ReconcilerDeps;
  readonly memory: SiteMemory;
  /** The validated site, with its spec pinned to a running promotion (see pinToPromotion). */
  readonly site: StandbySite;
  readonly key: string;
  readonly log: Logger;
  /** The newest copy of the site this reconcile knows: the cached one, then what our writes returned. */
  current: StandbySiteObject;
  /** Errors to report in status and to retry with backoff (the reconcile goes on). */
  readonly errors: string[];
  /** Objects of names the site wants that are not the site's (see actuator.ts): never written. */
  readonly conflicts: string[];
  /** Come back after this many milliseconds (the earliest of all requests wins). */
  after(ms: number | undefined): void;
  now(): Date;
  /** The primary's cluster, when it is another one (controller/remote.ts); set before the promotion runs. */
  remote?: RemotePrimary | undefined;
  /** Automatic site failover decided to promote: the witness's lease is this site's (controller/site-failover.ts). */
  takeover?: { epoch: number; reason: string } | undefined;
}
