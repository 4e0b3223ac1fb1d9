// The StandbySite spec: the single source for the TypeScript types, the
// defaults, the controller's validation and the CRD's OpenAPI schema and CEL rules.
// Each section has its own file (engine.ts, tiers.ts, standby.ts, promotion.ts, drill.ts,
// traffic.ts, site-failover.ts); this one holds what is protected, the deletion policy, the
// assembly of the spec and the rules that cross sections.
import { z } from 'zod';
import { duration, objectName, oneOf, podTemplate, secretKey, section, serviceName, text, withRules } from './fields.ts';
import { drill } from './drill.ts';
import { engine } from './engine.ts';
import { promotion } from './promotion.ts';
import { SITE_FAILOVER_DEFAULTS } from './site-failover.ts';
import { standby } from './standby.ts';
import { cold, hot, TIERS, warm } from './tiers.ts';
import { traffic } from './traffic.ts';

export const WORKLOAD_KINDS = ['StatefulSet', 'Deployment'] as const;
export const RETAIN_OR_DELETE = ['Retain', 'Delete'] as const;

const workloadRef = section('a workload reference {kind, name}', {
    kind: oneOf(WORKLOAD_KINDS, 'a supported workload kind').meta({
      description: 'StatefulSet or Deployment. The standby is a workload of the same kind, named <site name>-standby.',
    }),
    name: objectName('the primary workload').meta({
      description: "The primary workload's name. It is read, never changed (except by fencing: scaleDown), and must not be <site name>-standby.",
    }),
  }).meta({ description: 'The workload that runs the primary: a StatefulSet or a Deployment in the same namespace.' });


const primaryCluster = section("the primary's cluster: {kubeconfigSecret: {name, key}}", {
  kubeconfigSecret: secretKey("a kubeconfig for the primary's cluster", 'kubeconfig').meta({
    description:
      "A kubeconfig for the primary's API server, in a Secret of the site's namespace (in the standby's cluster). Only a server, its CA and a token or " +
      'client certificate embedded in the file are used: exec plugins, auth providers and file paths are refused. Give it only the access the ' +
      "chart's remoteAccess Role grants (see the README: a standby site in another cluster).",
  }),
}).meta({
  description:
    "The primary runs in another cluster: the operator watches it there through this kubeconfig, runs the standby here, and fences there. Absent: the primary is in this cluster, in the site's namespace.",
});

const primary = withRules(
  section('the primary: {workload: {kind, name}, service}', {
    workload: workloadRef,
    service: serviceName("the primary's own Service").meta({
      description: "The primary's own Service: its ports are copied to the traffic Service. Never modified.",
    }),
    cluster: primaryCluster.optional(),
    namespace: text('a namespace name', 63)
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
        error: (iss) => `"${String(iss.input)}" is not a namespace name: lower-case letters, digits and '-', at most 63 characters`,
      })
      .optional()
      .meta({
        description: "The primary's namespace in its cluster (spec.primary.cluster). Defaults to the site's own namespace name.",
      }),
  }),
  [
    {
      rule: '!has(self.namespace) || has(self.cluster)',
      message:
        "needs spec.primary.cluster: a primary in this cluster is always in the site's own namespace (the operator never acts in another namespace of its own cluster)",
      fieldPath: '.namespace',
      reason: 'FieldValueForbidden',
      holds: (p) => p.namespace === undefined || p.cluster !== undefined,
      path: ['namespace'],
    },
  ],
  'What is protected.',
);
const deletionPolicy = z
  .object({
    snapshots: oneOf(RETAIN_OR_DELETE, 'a deletion policy')
      .default('Retain')
      .meta({ description: "Retain: the site's VolumeSnapshots outlive it. Delete: they are deleted with the site." }),
    standbyVolumes: oneOf(RETAIN_OR_DELETE, 'a deletion policy')
      .default('Retain')
      .meta({ description: "Retain: the standby's PersistentVolumeClaims outlive the site. Delete: they are deleted with it." }),
  })
  .meta({ description: 'What happens to snapshots and standby volumes when the StandbySite is deleted. Retain keeps them.' });

export const siteSpecSchema = withRules(
  section('a StandbySite spec object', {
    tier: oneOf(TIERS, 'a tier').meta({ description: 'cold, warm or hot: what runs between disasters and how fast the standby takes over.' }),
    primary,
    traffic: traffic.default({ mode: 'operatorService' }),
    engine: engine.default({ type: 'generic' }),
    rpoTarget: duration('the recovery point objective', { positive: true })
      .optional()
      .meta({
        description:
          'The most data you accept to lose. Defaults to hot.maxLag for hot and twice the schedule period for warm and cold.',
      }),
    cold: cold.optional(),
    warm: warm.optional(),
    hot: hot.optional(),
    promotion: promotion.default({
      mode: 'automatic',
      failureThreshold: '30s',
      fencing: 'networkPolicy',
      maxPromotions: { count: 1, window: '1h' },
      stepTimeout: '5m',
      reprotect: 'automatic',
      failback: { mode: 'manual', after: '30m' },
      siteFailover: SITE_FAILOVER_DEFAULTS,
    }),
    deletionPolicy: deletionPolicy.default({ snapshots: 'Retain', standbyVolumes: 'Retain' }),
    drill: drill.optional(),
    standby: standby.optional(),
  }),
  [
    {
      rule: "self.tier != 'cold' || !has(self.standby) || !has(self.standby.resources)",
      message: 'cannot be used with tier cold: no standby runs until a promotion restores one, so there is nothing to make smaller',
      fieldPath: '.standby.resources',
      reason: 'FieldValueForbidden',
      holds: (s) => s.tier !== 'cold' || s.standby?.resources === undefined,
      path: ['standby', 'resources'],
    },
    {
      // Growth on promotion is in place where the cluster allows it, else a rolling update, which
      // restarts the promoted pod: which one is known only at promotion, and the PostgreSQL engine's
      // start of a just-promoted data directory is not proven safe yet (no test of it).
      rule: "self.engine.type != 'postgresql' || !has(self.standby) || !has(self.standby.resources)",
      message:
        'cannot be used with engine.type postgresql yet: growing the promoted standby to the primary\'s resources restarts its pod where in-place pod resize is refused (a rolling update), ' +
        'and restarting a just-promoted PostgreSQL standby is not tested yet; leave standby.resources out (the standby gets the primary\'s resources)',
      fieldPath: '.standby.resources',
      reason: 'FieldValueForbidden',
      holds: (s) => s.engine.type !== 'postgresql' || s.standby?.resources === undefined,
      path: ['standby', 'resources'],
    },
    {
      rule: "self.tier != 'cold' || has(self.cold)",
      message: 'is required when tier is cold: set at least cold.schedule',
      fieldPath: '.cold',
      reason: 'FieldValueRequired',
      holds: (s) => s.tier !== 'cold' || s.cold !== undefined,
      path: ['cold'],
    },
    {
      rule: "self.tier != 'warm' || has(self.warm)",
      message: 'is required when tier is warm: set at least warm.schedule',
      fieldPath: '.warm',
      reason: 'FieldValueRequired',
      holds: (s) => s.tier !== 'warm' || s.warm !== undefined,
      path: ['warm'],
    },
    {
      rule: "!has(self.cold) || self.cold.method != 'engine' || self.engine.type != 'generic'",
      message: 'method engine needs an engine that makes copies (engine.type postgresql); the generic engine uses volumeSnapshot or job',
      fieldPath: '.cold.method',
      holds: (s) => s.cold?.method !== 'engine' || s.engine.type !== 'generic',
      path: ['cold', 'method'],
    },
    {
      rule: "!has(self.warm) || self.warm.method != 'engine' || self.engine.type != 'generic'",
      message: 'method engine needs an engine that makes copies (engine.type postgresql); the generic engine uses volumeSnapshot or job',
      fieldPath: '.warm.method',
      holds: (s) => s.warm?.method !== 'engine' || s.engine.type !== 'generic',
      path: ['warm', 'method'],
    },
    ...(['cold', 'warm'] as const).map((tier) => ({
      rule: `!has(self.primary.cluster) || !has(self.${tier}) || self.${tier}.method != 'volumeSnapshot'`,
      message:
        'method volumeSnapshot cannot be used with spec.primary.cluster: CSI snapshots do not cross clusters; ' +
        "use method engine (PostgreSQL, from the standby's site) or job (your template, run in the standby's site)",
      fieldPath: `.${tier}.method`,
      holds: (s: { primary: { cluster?: unknown }; cold?: { method: string }; warm?: { method: string } }) =>
        s.primary.cluster === undefined || s[tier]?.method !== 'volumeSnapshot',
      path: [tier, 'method'],
    })),
    {
      rule: "!has(self.primary.cluster) || self.traffic.mode != 'primaryService'",
      message:
        "traffic.mode primaryService cannot be used with spec.primary.cluster: the primary's Service is in the other cluster and cannot select the standby's pods; use operatorService",
      fieldPath: '.traffic.mode',
      holds: (s) => s.primary.cluster === undefined || s.traffic.mode !== 'primaryService',
      path: ['traffic', 'mode'],
    },
    {
      rule: "self.promotion.siteFailover.mode != 'automatic' || has(self.primary.cluster)",
      message:
        'automatic site failover needs spec.primary.cluster: it fails over to this site when the primary\'s site, another cluster, is lost; a primary in this cluster fails over by promotion.mode',
      fieldPath: '.promotion.siteFailover.mode',
      holds: (s) => s.promotion.siteFailover.mode !== 'automatic' || s.primary.cluster !== undefined,
      path: ['promotion', 'siteFailover', 'mode'],
    },
    {
      rule: "!has(self.primary.cluster) || self.promotion.fencing != 'scaleDown'",
      message:
        "fencing scaleDown cannot be used with spec.primary.cluster: the remote operator's Role does not change your workloads there; use networkPolicy (the fence is written in the primary's cluster)",
      fieldPath: '.promotion.fencing',
      holds: (s) => s.primary.cluster === undefined || s.promotion.fencing !== 'scaleDown',
      path: ['promotion', 'fencing'],
    },
    {
      // The hot tier streams across sites from engine.postgresql.primaryEndpoint over TLS; the warm
      // tier's base backups and the cold tier's dumps still address the primary's Service here.
      rule: "!has(self.primary.cluster) || self.engine.type != 'postgresql' || self.tier == 'hot'",
      message:
        "postgresql with spec.primary.cluster supports only tier hot so far (streaming from engine.postgresql.primaryEndpoint over TLS): warm base backups and cold dumps across sites are not supported yet; " +
        "use tier hot, or engine.type generic (warm/cold method job runs your template in the standby's site)",
      fieldPath: '.tier',
      reason: 'FieldValueForbidden',
      holds: (s) => s.primary.cluster === undefined || s.engine.type !== 'postgresql' || s.tier === 'hot',
      path: ['tier'],
    },
    {
      rule: "!has(self.primary.cluster) || self.engine.type != 'postgresql' || !has(self.engine.postgresql) || has(self.engine.postgresql.primaryEndpoint)",
      message:
        "is required with spec.primary.cluster: the standby's site reaches the primary's PostgreSQL through an address the WAN routes (a LoadBalancer, NodePort or ingress address), over TLS",
      fieldPath: '.engine.postgresql.primaryEndpoint',
      reason: 'FieldValueRequired',
      holds: (s) => s.primary.cluster === undefined || s.engine.type !== 'postgresql' || s.engine.postgresql === undefined || s.engine.postgresql.primaryEndpoint !== undefined,
      path: ['engine', 'postgresql', 'primaryEndpoint'],
    },
  ],
  'The desired disaster-recovery standby of one workload.',
);

export type SiteSpec = z.output<typeof siteSpecSchema>;
export type SiteSpecInput = z.input<typeof siteSpecSchema>;
export type Tier = SiteSpec['tier'];
export type ColdSpec = NonNullable<SiteSpec['cold']>;
export type WarmSpec = NonNullable<SiteSpec['warm']>;
export type HotSpec = NonNullable<SiteSpec['hot']>;
export type PromotionSpec = SiteSpec['promotion'];
export type EngineSpec = SiteSpec['engine'];
export type DrillSpec = NonNullable<SiteSpec['drill']>;
export type StandbySpec = NonNullable<SiteSpec['standby']>;
export type ContainerResources = NonNullable<StandbySpec['resources']>[string];
export type PodTemplate = z.output<ReturnType<typeof podTemplate>>;
