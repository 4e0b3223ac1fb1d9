// spec.engine: how data moves between primary and standby and how the standby is promoted, for
// the generic engine (storage snapshots and the user's Jobs) and the PostgreSQL engine.
import { z } from 'zod';
import { embedded, flag, integer, objectName, oneOf, podTemplate, secretKey, section, text, withRules } from './fields.ts';

export const ENGINE_TYPES = ['generic', 'postgresql'] as const;

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

export const engine = withRules(
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
