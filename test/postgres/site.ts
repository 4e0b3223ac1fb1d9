// A StandbySite "orders-db" in namespace "shop" protecting a PostgreSQL
// StatefulSet, as the controller hands it to the engine, plus an EngineIO
// whose Secrets and endpoints the tests choose (loopback servers).
import type { V1Deployment, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { validateSpec, type StandbySite } from '../../src/api/site.ts';
import type { Side } from '../../src/api/status.ts';
import type { EngineContext, EngineIO } from '../../src/engines/engine.ts';
import { ENV } from '../../src/engines/postgresql/script-parts.ts';
import { primaryVolumes } from '../../src/site/workload.ts';
import { REPLICATION, SUPERUSER } from './harness.ts';

export const SITE = 'orders-db';
export const NAMESPACE = 'shop';
export const REPL_SECRET = 'orders-db-repl';
export const SUPER_SECRET = 'orders-db-super';

export function primaryStatefulSet(): V1StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: SITE, namespace: NAMESPACE },
    spec: {
      serviceName: SITE,
      replicas: 1,
      selector: { matchLabels: { app: SITE } },
      template: {
        metadata: { labels: { app: SITE } },
        spec: {
          containers: [
            {
              name: 'postgres',
              image: 'postgres:17.6',
              env: [{ name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' }],
              ports: [{ name: 'postgresql', containerPort: 5432 }],
              volumeMounts: [{ name: 'data', mountPath: '/var/lib/postgresql/data' }],
            },
          ],
        },
      },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '20Gi' } } } }],
    },
  };
}

/** The same primary as a Deployment on one PVC. */
export function primaryDeployment(): V1Deployment {
  const sts = primaryStatefulSet();
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: SITE, namespace: NAMESPACE },
    spec: {
      selector: sts.spec!.selector,
      template: {
        ...sts.spec!.template,
        spec: { ...sts.spec!.template.spec!, volumes: [{ name: 'data', persistentVolumeClaim: { claimName: `${SITE}-data` } }] },
      },
    },
  };
}

export function primaryService(): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: SITE, namespace: NAMESPACE },
    spec: { selector: { app: SITE }, ports: [{ name: 'postgresql', port: 5432, targetPort: 'postgresql' }] },
  };
}

export interface SiteOptions {
  tier?: 'hot' | 'warm' | 'cold';
  /** The server's port (the loopback primary's). */
  port?: number;
  synchronous?: boolean;
  replicas?: number;
  database?: string;
  superuserSecret?: boolean;
  kind?: 'StatefulSet' | 'Deployment';
  /** Which side serves (after a failover: the standby). */
  serving?: Side;
  traffic?: 'operatorService' | 'primaryService';
  /** The primary in another cluster, reached at this endpoint (engine.postgresql.primaryEndpoint). */
  remote?: { host: string; port?: number; caSecret?: { name: string; key?: string } };
}

export function site(o: SiteOptions = {}): StandbySite {
  const tier = o.tier ?? 'hot';
  const spec = {
    tier,
    primary: {
      workload: { kind: o.kind ?? 'StatefulSet', name: SITE },
      service: SITE,
      ...(o.remote ? { cluster: { kubeconfigSecret: { name: 'primary-cluster' } } } : {}),
    },
    engine: {
      type: 'postgresql',
      postgresql: {
        replicationSecret: REPL_SECRET,
        ...(o.superuserSecret === false ? {} : { superuserSecret: SUPER_SECRET }),
        port: o.port ?? 5432,
        synchronous: o.synchronous ?? false,
        ...(o.database ? { database: o.database } : {}),
        ...(o.remote ? { primaryEndpoint: { host: o.remote.host, port: o.remote.port ?? 5432, caSecret: o.remote.caSecret ?? { name: 'primary-ca' } } } : {}),
      },
    },
    ...(o.traffic ? { traffic: { mode: o.traffic } } : {}),
    ...(tier === 'hot' ? { hot: { replicas: o.replicas ?? 1, maxLag: '10s' } } : {}),
    ...(tier === 'warm' ? { warm: { schedule: '*/15 * * * *', method: 'engine' } } : {}),
    ...(tier === 'cold' ? { cold: { schedule: '0 2 * * *', method: 'engine', retention: { keepLast: 3, maxAge: '720h' } } } : {}),
  };
  const v = validateSpec(spec, SITE);
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return { metadata: { name: SITE, namespace: NAMESPACE, uid: 'uid-1', generation: 1 }, spec: v.spec, status: {} };
}

export function context(o: SiteOptions = {}): EngineContext {
  const s = site(o);
  const primary = o.kind === 'Deployment' ? primaryDeployment() : primaryStatefulSet();
  return {
    site: s,
    tier: s.spec.tier,
    primary,
    primaryService: primaryService(),
    volumes: primaryVolumes(primary),
    operatorImage: 'operator:test',
    ...(o.serving ? { serving: o.serving } : {}),
  };
}

export interface FakeIOOptions {
  secrets?: Record<string, Record<string, string>>;
  /** Ready addresses of the primary Service. */
  endpoints?: string[];
  /** Addresses of the standby's headless Service. */
  standbyEndpoints?: string[];
}

/** Secrets and endpoints as a cluster would serve them; defaults: both Secrets right, the primary at 127.0.0.1. */
export function fakeIO(o: FakeIOOptions = {}): EngineIO {
  const secrets = o.secrets ?? {
    [REPL_SECRET]: { username: REPLICATION.username, password: REPLICATION.password },
    [SUPER_SECRET]: { username: SUPERUSER.username, password: SUPERUSER.password },
  };
  return {
    secret: (namespace, name) => Promise.resolve(namespace === NAMESPACE ? secrets[name] : undefined),
    endpoints: (namespace, service) => {
      if (namespace !== NAMESPACE) return Promise.resolve([]);
      if (service === SITE) return Promise.resolve(o.endpoints ?? ['127.0.0.1']);
      if (service === `${SITE}-standby`) return Promise.resolve(o.standbyEndpoints ?? []);
      return Promise.resolve([]);
    },
  };
}

/** The environment the engine's pod templates give its scripts, with the test's credentials. */
export function scriptEnv(o: { user?: string; password?: string; pod?: string } = {}): Record<string, string> {
  return {
    [ENV.user]: o.user ?? REPLICATION.username,
    [ENV.password]: o.password ?? REPLICATION.password,
    [ENV.superuser]: SUPERUSER.username,
    [ENV.superuserPassword]: SUPERUSER.password,
    [ENV.podName]: o.pod ?? `${SITE}-standby-0`,
  };
}
