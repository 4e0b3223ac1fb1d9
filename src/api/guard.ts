// StandbySiteGuard: the small object the standby's operator writes into the primary's cluster
// when a site fails over automatically (spec.promotion.siteFailover.mode automatic). It tells the
// operator that runs there which workload to guard and how to reach the witness; that operator
// renews the witness's lease and fences its own primary when it cannot
// (docs/design/site-failover.md).
//
// One writer per part: the standby's operator owns metadata and spec (including spec.ack, its
// failsafe answers); the primary's operator writes only status (the lease it holds, its
// failsafe pings, its self-fence). Neither side ever writes the other's part.
import { z } from 'zod';
import { GROUP, VERSION } from './site.ts';
import { integer, objectName, section, text } from './fields.ts';
import { timingShape } from './site-failover.ts';
import { conditionSchema } from './status.ts';

export const GUARD_KIND = 'StandbySiteGuard';
export const GUARD_PLURAL = 'standbysiteguards';
export const GUARD_SINGULAR = 'standbysiteguard';

/** The guard's own fence: a NetworkPolicy of its own name, so it never touches the standby operator's `<site>-fence`. */
export function selfFenceName(guardName: string): string {
  return `${guardName}-self-fence`;
}

const timing = z.object(timingShape);

export const guardSpecSchema = z.object({
  site: section('the StandbySite this guard answers to: {name, namespace, uid}', {
    name: objectName('the StandbySite').meta({ description: "The StandbySite's name, in the standby's cluster." }),
    namespace: text('a namespace name', 63).meta({ description: "The StandbySite's namespace, in the standby's cluster." }),
    uid: text('a uid', 64).meta({ description: "The StandbySite's uid: a new site of the same name is another guard." }),
  }).meta({ description: 'The StandbySite, in the standby\'s cluster, whose operator wrote this guard (for people and for identity).' }),
  workload: section('the primary workload: {kind, name}', {
    kind: z.enum(['StatefulSet', 'Deployment']).meta({ description: 'StatefulSet or Deployment.' }),
    name: objectName('the primary workload').meta({ description: "The primary workload, in this guard's namespace." }),
  }).meta({ description: 'The workload whose pods this guard lets accept writes only while the lease is held: its pods are fenced when it is not.' }),
  witness: section('the witness: {kubeconfigSecret: {name, key}, namespace, leaseName}', {
    kubeconfigSecret: section('a Secret key reference {name, key}', {
      name: objectName('the Secret holding a kubeconfig for the witness').meta({ description: "The Secret, in this guard's namespace, holding a kubeconfig for the witness." }),
      key: text('a key of the Secret', 253).meta({ description: "The key in the Secret's data." }),
    }).meta({ description: "This cluster's kubeconfig for the witness's API server." }),
    namespace: text('a namespace name', 63).meta({ description: "The witness's namespace that holds the lease." }),
    leaseName: objectName('the Lease on the witness').meta({ description: 'The coordination.k8s.io Lease on the witness for this site pair.' }),
  }).meta({ description: 'Where the lease is.' }),
  holder: text("this site's identity on the lease", 253).meta({
    description: "The holder identity the primary's site writes on the lease; the standby's site takes the lease over under its own.",
  }),
  epoch: integer('the epoch the primary serves at', 1, Number.MAX_SAFE_INTEGER).meta({
    description: 'The epoch at which the primary may accept writes: a lease of another holder or a newer epoch is lost for good (fenced until re-protection).',
  }),
  timing: timing.meta({ description: 'promotion.siteFailover of the StandbySite: the timing rule was checked there.' }),
  ack: z
    .object({
      ping: integer('the failsafe ping answered', 0, Number.MAX_SAFE_INTEGER).meta({ description: "The number of the primary's ping (status.ping.number) answered." }),
      at: z.iso.datetime().meta({ description: "When the standby's operator read the ping (its wall clock; for people)." }),
    })
    .optional()
    .meta({
      description:
        "The standby's failsafe answer: it read ping `ping` while not promoting, and promised not to take the lease for leaseDuration + acquireAfter from then. " +
        'Written only by the standby\'s operator.',
    }),
}).meta({ description: "Written only by the standby site's operator: what to guard, where the lease is, the timing, and its failsafe answers." });

export const guardStatusSchema = z.object({
  observedGeneration: z.number().int().optional().meta({ description: 'The generation of the spec the status was written for.' }),
  conditions: z.array(conditionSchema.extend({ type: z.string().max(316).meta({ description: "The condition's type: LeaseHeld, WitnessReachable or SelfFenced." }) })).optional().meta({
    description: 'LeaseHeld (the lease renewed in time), WitnessReachable, SelfFenced (the primary fenced by this guard, with the reason).',
  }),
  lease: z
    .object({
      holder: z.string().meta({ description: 'The holder the witness last showed.' }),
      epoch: z.number().int().meta({ description: 'The epoch the witness last showed.' }),
      renewedAt: z.iso.datetime().optional().meta({ description: 'When this site last renewed the lease (its wall clock, for people and for a restarted guard).' }),
    })
    .optional()
    .meta({ description: 'The lease as this site last saw it.' }),
  ping: z
    .object({
      number: z.number().int().meta({ description: 'Grows with every failsafe request.' }),
      sentAt: z.iso.datetime().meta({ description: 'When it was written (for people: the guard counts on its monotonic clock).' }),
    })
    .optional()
    .meta({ description: "While the witness does not answer: the failsafe request the standby's operator answers in spec.ack." }),
  fenced: z
    .object({
      since: z.iso.datetime().meta({ description: 'When the guard fenced the primary.' }),
      reason: z.string().meta({ description: 'Why the guard fenced it, for people.' }),
    })
    .optional()
    .meta({ description: 'Set while the guard fences the primary (its NetworkPolicy <name>-self-fence).' }),
}).meta({ description: "Written only by the operator in this (the primary's) cluster: the lease, its failsafe pings and its own fence." });

export type GuardSpec = z.output<typeof guardSpecSchema>;
export type GuardStatus = z.output<typeof guardStatusSchema>;

export interface GuardObject {
  apiVersion: `${typeof GROUP}/${typeof VERSION}`;
  kind: typeof GUARD_KIND;
  metadata: { name: string; namespace: string; uid?: string; resourceVersion?: string; generation?: number; creationTimestamp?: string; labels?: Record<string, string> };
  spec: GuardSpec;
  status?: GuardStatus;
}
