// The StandbySite spec: the single source for the TypeScript types, the
// defaults, the controller's validation and the CRD's OpenAPI schema and CEL rules.
import { z } from 'zod';
import { parseQuantity } from '../k8s/quantity.ts';
import {
  duration,
  embedded,
  section,
  flag,
  integer,
  objectName,
  oneOf,
  podTemplate,
  schedule,
  secretKey,
  serviceName,
  text,
  timeZone,
  withRules,
} from './fields.ts';
import { siteFailover, SITE_FAILOVER_DEFAULTS } from './site-failover.ts';

export const TIERS = ['cold', 'warm', 'hot'] as const;
export const WORKLOAD_KINDS = ['StatefulSet', 'Deployment'] as const;
export const ENGINE_TYPES = ['generic', 'postgresql'] as const;
export const PROMOTION_MODES = ['automatic', 'manual', 'disabled'] as const;
export const FENCING_METHODS = ['networkPolicy', 'scaleDown'] as const;
export const TRAFFIC_MODES = ['operatorService', 'primaryService'] as const;
export const COPY_METHODS = ['volumeSnapshot', 'job', 'engine'] as const;
export const RETAIN_OR_DELETE = ['Retain', 'Delete'] as const;
export const REPROTECT_MODES = ['automatic', 'manual'] as const;
export const FAILBACK_MODES = ['manual', 'automatic'] as const;

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

const traffic = z
  .object({
    service: serviceName('the Service clients connect to')
      .optional()
      .meta({
        description: 'The Service clients connect to, pointed at the active side. Defaults to <site name>-active.',
      }),
    mode: oneOf(TRAFFIC_MODES, 'a traffic mode')
      .default('operatorService')
      .meta({
        description:
          'operatorService: the operator owns traffic.service and switches its selector (GitOps-safe). ' +
          "primaryService: the operator patches the primary's own Service selector on switchover (needs ignoreDifferences in GitOps tools).",
      }),
    externalDNS: z
      .object({
        hostname: text('a DNS name', 253)
          .regex(/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\.?$/, {
            error: (iss) => `"${String(iss.input)}" is not a DNS name such as orders.db.example.com`,
          })
          .meta({ description: 'The name clients resolve, e.g. orders.db.example.com.' }),
      })
      .optional()
      .meta({
        description:
          "DNS-based failover: the operator puts the ExternalDNS annotation external-dns.alpha.kubernetes.io/hostname on the active side's traffic Service " +
          "(with a remote primary: a traffic Service of the operator's in the primary's cluster until a promotion, the one in this cluster after it) and removes it from the other.",
      }),
  })
  .meta({ description: 'How clients reach the active side.' });

const envVar = embedded(
  { name: text('an environment variable name', 256).min(1).meta({ description: 'The variable name.' }) },
  'an environment variable',
).meta({ description: 'A core/v1 EnvVar: name with value or valueFrom.' });

const genericEngine = z
  .object({
    standbyEnv: z
      .array(envVar)
      .max(64)
      .optional()
      .meta({ description: "Environment variables added to every container of the standby's pods (e.g. ROLE=standby)." }),
    promoteJobTemplate: podTemplate('a pod template for the promote Job')
      .optional()
      .meta({ description: 'A Job run on promotion after fencing, before traffic switches (e.g. tell the app it is primary).' }),
    reprotectJobTemplate: podTemplate('a pod template for the re-protect Job')
      .optional()
      .meta({
        description:
          "Hot tier: a Job run to re-protect after a failover, once the old primary runs again (behind its fence, which lets it reach the serving standby) and its volumes are kept aside: it must make the old primary follow the serving standby. Its pods get STANDBY_SERVING_HOST (the serving standby's Service) and STANDBY_FOLLOWER_SELECTOR.",
      }),
    failbackJobTemplate: podTemplate('a pod template for the failback Job')
      .optional()
      .meta({
        description:
          'Hot tier: a Job run on failback once the serving standby is fenced: it must succeed only when the primary holds everything the standby committed, and leave the primary ready to take writes.',
      }),
  })
  .meta({ description: 'Settings of the generic engine: storage snapshots and user hooks, for any workload.' });

const quantity = text('a storage size such as 20Gi', 32).regex(/^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/, {
  error: (iss) => `"${String(iss.input)}" is not a storage size; write it as Kubernetes does, e.g. 20Gi or 500Mi`,
});

const dumpVolume = z
  .object({
    size: quantity.optional().meta({ description: "Size of the dump PVC. Defaults to the size of the primary's data volume." }),
    storageClassName: objectName('a StorageClass')
      .optional()
      .meta({ description: 'StorageClass of the dump PVC. Defaults to the cluster default.' }),
  })
  .meta({ description: 'The PVC (<site>-dumps) that the cold tier keeps its logical dumps on (method engine).' });

const primaryEndpoint = section('the primary\'s address across sites: {host, port, caSecret}', {
  host: text('a host name or IP address', 253)
    .regex(/^[A-Za-z0-9]([-A-Za-z0-9.:]*[A-Za-z0-9])?$/, {
      error: (iss) => `"${String(iss.input)}" is not a host name or IP address`,
    })
    .meta({ description: "The primary's address as the standby's site reaches it: a LoadBalancer, NodePort or ingress address." }),
  port: integer('a TCP port', 1, 65535).default(5432).meta({ description: 'The port at that address.' }),
  caSecret: secretKey("the CA certificate (PEM) that signs the primary's server certificate", 'ca.crt').meta({
    description:
      "The CA that signs the primary's server certificate, in a Secret of the site's namespace. Every connection across sites uses TLS with sslmode=verify-full: " +
      "the certificate must name the host above.",
  }),
}).meta({
  description:
    "Where the standby's site reaches the primary's PostgreSQL when the primary is in another cluster (spec.primary.cluster), always over TLS " +
    '(sslmode=verify-full, the CA from caSecret mounted read-only into the standby\'s bootstrap and postgres containers). The hot tier uses it for everything that ' +
    "reaches the primary: creating the replica's physical slot and synchronous_standby_names (through this address, with the Secrets of the site's namespace: " +
    "replicationSecret and superuserSecret live in the standby's cluster), pg_basebackup, streaming (primary_conninfo) and the operator's lag probes. " +
    'Warm base backups and cold dumps across sites are not supported yet (refused).',
});

const postgresqlEngine = z
  .object({
    replicationSecret: objectName('the Secret with the replication credentials').meta({
      description:
        'A Secret with keys username and password: a role with LOGIN and REPLICATION on the primary, allowed by its pg_hba.conf ' +
        "for replication connections and for connections to `database`. The operator reads the standby's lag with it: grant it pg_monitor.",
    }),
    superuserSecret: objectName('the Secret with superuser credentials')
      .optional()
      .meta({
        description:
          'A Secret with keys username and password of a superuser, used to promote (pg_promote), for dumps and restores, and to set ' +
          'synchronous_standby_names on the primary (synchronous mode). Defaults to replicationSecret.',
      }),
    port: integer('a TCP port', 1, 65535).default(5432).meta({ description: 'The port postgres listens on in its container.' }),
    dataDirectory: text('an absolute path', 256)
      .regex(/^\//, { error: (iss) => `"${String(iss.input)}" is not an absolute path` })
      .default('/var/lib/postgresql/data/pgdata')
      .meta({ description: 'PGDATA inside the containers; it must be on a volume (a PersistentVolumeClaim for the warm and cold tiers).' }),
    container: text('a container name', 63)
      .optional()
      .meta({ description: "The container that runs postgres in the primary's pod template. Defaults to the first." }),
    synchronous: flag('synchronous replication').default(false).meta({
      description:
        'Hot tier: the primary waits for standby replica 0 to confirm each commit (RPO zero). Writes stop while the standby is away.',
    }),
    database: text('a database name', 63)
      .default('postgres')
      .meta({ description: 'The database the engine connects to, and the one the cold tier dumps.' }),
    dumpVolume: dumpVolume.optional(),
    primaryEndpoint: primaryEndpoint.optional(),
  })
  .meta({ description: 'Settings of the PostgreSQL engine.' });

const engine = withRules(
  z.object({
    type: oneOf(ENGINE_TYPES, 'a known engine')
      .default('generic')
      .meta({
        description:
          'generic: storage snapshots and your Job templates, for any workload. postgresql: streaming replication, base backups, dumps and pg_promote.',
      }),
    generic: genericEngine.optional(),
    postgresql: postgresqlEngine.optional(),
  }),
  [
    {
      rule: "self.type != 'postgresql' || has(self.postgresql)",
      message: 'is required when engine.type is postgresql: set engine.postgresql.replicationSecret',
      fieldPath: '.postgresql',
      reason: 'FieldValueRequired',
      holds: (e) => e.type !== 'postgresql' || e.postgresql !== undefined,
      path: ['postgresql'],
    },
  ],
  'How data moves between primary and standby and how the standby is promoted.',
);

const retention = withRules(
  z.object({
    keepLast: integer('the number of snapshots to keep', 1, 1000)
      .optional()
      .meta({ description: 'Keep at most this many ready snapshots (1-1000); older ones are deleted.' }),
    maxAge: duration('how long snapshots are kept', { positive: true })
      .optional()
      .meta({ description: 'Delete ready snapshots older than this duration (e.g. 720h).' }),
  }),
  [
    {
      rule: 'has(self.keepLast) || has(self.maxAge)',
      message: 'needs keepLast, maxAge or both; the newest ready snapshot is always kept',
      holds: (r) => r.keepLast !== undefined || r.maxAge !== undefined,
    },
  ],
  'Which snapshots are pruned. The newest ready snapshot is never deleted.',
);

function scheduledCopy(tier: 'cold' | 'warm') {
  const noun = tier === 'cold' ? 'snapshot' : 'sync';
  return {
    schedule: schedule().meta({ description: `When the ${noun} runs, in the Kubernetes CronJob dialect (5 fields, no seconds).` }),
    timeZone: timeZone().optional().meta({ description: 'IANA time zone of the schedule. Defaults to UTC.' }),
    suspend: flag(`whether the ${noun} schedule is paused`)
      .default(false)
      .meta({ description: `Pauses the ${noun} schedule (the CronJob's suspend); promotion still uses the newest copy.` }),
    method: oneOf(COPY_METHODS, `a ${noun} method`)
      .default('volumeSnapshot')
      .meta({
        description:
          tier === 'cold'
            ? "volumeSnapshot: CSI VolumeSnapshots of the primary's PVCs. job: your jobTemplate (e.g. a dump). engine: the engine's logical dump."
            : "volumeSnapshot: snapshot the primary's PVCs and clone them for the standby. job: your jobTemplate. engine: the engine's own copy (PostgreSQL: base backup).",
      }),
    volumeSnapshotClassName: objectName('a VolumeSnapshotClass')
      .optional()
      .meta({ description: 'VolumeSnapshotClass for method volumeSnapshot. Defaults to the cluster default.' }),
    jobTemplate: podTemplate(`a pod template for the ${noun} Job`)
      .optional()
      .meta({ description: `Pod template of the ${noun} Job, for method job.` }),
  };
}

const methodNeedsTemplate = {
  rule: "self.method != 'job' || has(self.jobTemplate)",
  message: 'is required when method is job: give the pod template the Job runs',
  fieldPath: '.jobTemplate',
  reason: 'FieldValueRequired' as const,
  holds: (c: { method: string; jobTemplate?: unknown }) => c.method !== 'job' || c.jobTemplate !== undefined,
  path: ['jobTemplate'],
};

const cold = withRules(
  z.object({
    ...scheduledCopy('cold'),
    restoreJobTemplate: podTemplate('a pod template for the restore Job')
      .optional()
      .meta({ description: 'For method job: the Job that restores the newest copy into the standby on promotion.' }),
    retention: retention.default({ keepLast: 7 }),
  }),
  [
    methodNeedsTemplate,
    {
      rule: "self.method != 'job' || has(self.restoreJobTemplate)",
      message: 'is required when method is job: give the pod template of the Job that restores a copy on promotion',
      fieldPath: '.restoreJobTemplate',
      reason: 'FieldValueRequired',
      holds: (c) => c.method !== 'job' || c.restoreJobTemplate !== undefined,
      path: ['restoreJobTemplate'],
    },
  ],
  'Cold tier: scheduled snapshots, restored into a standby on disaster.',
);

const warm = withRules(z.object(scheduledCopy('warm')), [methodNeedsTemplate], 'Warm tier: a standby kept at zero replicas, refreshed on a schedule.');

const hot = z
  .object({
    replicas: integer('the number of standby replicas', 1, 16)
      .default(1)
      .meta({ description: 'Pods of the standby workload (1-16).' }),
    maxLag: duration('the largest replication lag at which the standby may be promoted', { positive: true })
      .default('30s')
      .meta({
        description:
          'The largest replication lag (measured by the engine) at which the standby may be promoted automatically; a standby further behind is not promoted.',
      }),
  })
  .meta({ description: 'Hot tier: a standby that runs and streams from the primary all the time.' });

// A resource quantity as Kubernetes writes it (CPU 250m or 0.5, memory 256Mi or 1G): the CEL
// rules below compare them with the API server's quantity() library.
const resourceQuantity = text('a resource quantity such as 250m, 0.5 or 256Mi', 32).regex(
  /^([0-9]+(\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/,
  { error: (iss) => `"${String(iss.input)}" is not a resource quantity; write it as Kubernetes does, e.g. 250m or 0.5 (CPU), 256Mi (memory)` },
);

const cpuMemory = (what: string) =>
  z
    .object({
      cpu: resourceQuantity.optional().meta({ description: `CPU ${what}, e.g. 250m.` }),
      memory: resourceQuantity.optional().meta({ description: `Memory ${what}, e.g. 256Mi.` }),
    })
    .meta({ description: `The standby container's ${what} (cpu, memory).` });

const RESOURCES = ['cpu', 'memory'] as const;

const containerResources = withRules(
  z.object({ requests: cpuMemory('requests').optional(), limits: cpuMemory('limits').optional() }),
  [
    ...RESOURCES.flatMap((r) =>
      (['requests', 'limits'] as const).map((k) => ({
        rule: `!has(self.${k}) || !has(self.${k}.${r}) || quantity(self.${k}.${r}).isGreaterThan(quantity('0'))`,
        message: `must be more than zero: a standby container with no ${r} ${k === 'requests' ? 'reserved' : 'allowed'} cannot stand in for the primary; give a smaller value, or leave it out to keep the primary's`,
        fieldPath: `.${k}.${r}`,
        holds: (c: { requests?: Partial<Record<string, string>>; limits?: Partial<Record<string, string>> }) => {
          const q = c[k]?.[r];
          return q === undefined || (parseQuantity(q) ?? 0) > 0;
        },
        path: [k, r],
      })),
    ),
    ...RESOURCES.map((r) => ({
      rule: `!has(self.requests) || !has(self.limits) || !has(self.requests.${r}) || !has(self.limits.${r}) || quantity(self.limits.${r}).compareTo(quantity(self.requests.${r})) >= 0`,
      message: `must not be below requests.${r}: a container's limit is at least its request`,
      fieldPath: `.limits.${r}`,
      holds: (c: { requests?: Partial<Record<string, string>>; limits?: Partial<Record<string, string>> }) => {
        const req = c.requests?.[r];
        const lim = c.limits?.[r];
        return req === undefined || lim === undefined || (parseQuantity(lim) ?? 0) >= (parseQuantity(req) ?? 0);
      },
      path: ['limits', r],
    })),
  ],
  "One standby container's CPU and memory. A value left out is the primary's, lowered when needed to stay within the values given (a request never above its limit).",
);

const standby = section('the standby while it stands by: {resources}', {
  resources: z
    .record(text('a container name', 63), containerResources)
    // Bounded, so that the API server's CEL cost estimate of the rules per container stays small.
    .refine((m) => Object.keys(m).length <= 32, { error: 'names at most 32 containers' })
    .optional()
    .meta({
      maxProperties: 32,
      description:
        "Requests and limits of the standby's containers while it stands by, by container name (a container not named keeps the primary's), e.g. {db: {requests: {cpu: 250m, memory: 256Mi}}}. " +
        'Hot: the running standby; warm: what it starts with. Less than the primary is allowed: on promotion, after traffic switches, the standby grows back to the ' +
        "primary's requests and limits (the Growing step, within promotion.stepTimeout): in place through the pods' resize subresource where the cluster allows it (no restart), else by a rolling update of its pods (status.promotion.growth says which). " +
        'Not for the cold tier (no standby runs), nor yet with engine.type postgresql. ' +
        'The number of standby pods stays hot.replicas.',
    }),
}).meta({ description: "How the standby differs from the primary while it stands by: a smaller standby costs less, and grows to the primary's capacity on promotion." });

const failback = z
  .object({
    mode: oneOf(FAILBACK_MODES, 'a failback mode')
      .default('manual')
      .meta({
        description:
          'manual: fail back to the declared primary on the standby.dev/failback=<token> annotation. automatic: also by itself once the site has been re-protected and stable for `after`.',
      }),
    after: duration('how long the site must be re-protected and stable before an automatic failback', { positive: true })
      .default('30m')
      .meta({ description: 'With mode automatic: how long the site must have been re-protected (Protected, the standby serving) before it fails back.' }),
  })
  .meta({ description: 'Going back to the declared primary after a failover: a planned switchover that loses nothing.' });

const maxPromotions = z
  .object({
    count: integer('the number of promotions allowed per window', 1, 100)
      .default(1)
      .meta({ description: 'Automatic promotions allowed per window (1-100).' }),
    window: duration('the window the promotion budget counts over', { positive: true })
      .default('1h')
      .meta({ description: 'The sliding window the budget counts promotions over (e.g. 1h).' }),
  })
  .meta({ description: 'The promotion budget: at most count automatic promotions per window, so sites cannot ping-pong.' });

const promotion = z
  .object({
    mode: oneOf(PROMOTION_MODES, 'a promotion mode')
      .default('automatic')
      .meta({
        description:
          'automatic: promote when the primary stays not Ready for failureThreshold. manual: report only; promote with the standby.dev/promote annotation. disabled: never promote.',
      }),
    failureThreshold: duration('how long the primary must stay not Ready before promotion', { positive: false })
      .default('30s')
      .meta({
        description:
          'How long the primary must stay continuously not Ready (none of its pods Ready) before an automatic promotion begins, e.g. 30s or 2m; readiness that comes back restarts the clock. 0s promotes as soon as readiness fails.',
      }),
    fencing: oneOf(FENCING_METHODS, 'a fencing method')
      .default('networkPolicy')
      .meta({
        description:
          "networkPolicy: an operator-owned NetworkPolicy denies all ingress and egress of the old primary's pods. scaleDown: the primary workload is scaled to 0 (GitOps self-heal can undo it).",
      }),
    maxPromotions: maxPromotions.default({ count: 1, window: '1h' }),
    stepTimeout: duration('how long one promotion step may take before the promotion is marked Failed', { positive: true })
      .default('5m')
      .meta({
        description: 'How long one promotion step (fence, promote, switch traffic) may take before the promotion is marked Failed.',
      }),
    reprotect: oneOf(REPROTECT_MODES, 'a re-protection mode')
      .default('automatic')
      .meta({
        description:
          'After a failover, how the old primary becomes the serving standby\'s standby. automatic: as soon as it runs again (its pods Ready behind the fence, or scaled up again). manual: on the standby.dev/reprotect=<token> annotation.',
      }),
    failback: failback.default({ mode: 'manual', after: '30m' }),
    siteFailover: siteFailover.default(SITE_FAILOVER_DEFAULTS),
  })
  .meta({ description: 'When and how the standby takes over.' });

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

const drillVerify = z
  .object({
    jobTemplate: podTemplate('a pod template for the drill verification Job')
      .optional()
      .meta({
        description:
          "Your check of the drill's scratch copy, run as a Job after the engine's own once the copy is Ready (e.g. query the data it holds). " +
          'Its containers get DRILL_HOST (the scratch pod\'s IP), DRILL_ID, DRILL_SITE, DRILL_TIER and DRILL_DATA_TIME; the drill fails with the Job\'s message when it fails.',
      }),
  })
  .meta({ description: "What checks a drill's scratch copy besides the engine's own verification." });

const drill = z
  .object({
    schedule: schedule()
      .optional()
      .meta({ description: 'When a drill runs, in the Kubernetes CronJob dialect (5 fields, no seconds). Without it drills run only by the standby.dev/drill annotation.' }),
    timeZone: timeZone().optional().meta({ description: 'IANA time zone of the drill schedule. Defaults to UTC.' }),
    suspend: flag('whether the drill schedule is paused')
      .default(false)
      .meta({ description: 'Pauses the drill schedule; the standby.dev/drill annotation still runs one.' }),
    timeout: duration('how long a drill may take', { positive: true })
      .default('15m')
      .meta({
        description:
          'How long a drill may take from its start to a verified scratch copy before it is marked Failed and its scratch objects are removed (e.g. 15m).',
      }),
    keepFailed: flag('whether the scratch objects of a failed drill are kept')
      .default(false)
      .meta({ description: 'Keep the scratch objects of a failed drill for inspection, until the next drill starts or the site is deleted.' }),
    verify: drillVerify.optional(),
  })
  .meta({
    description:
      'Disaster-recovery drills: on a schedule (or the standby.dev/drill annotation) the operator restores what a failover would use into scratch objects no Service selects, isolated by a NetworkPolicy, measures the RTO, verifies the copy and removes it. Production objects are never changed.',
  });

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
