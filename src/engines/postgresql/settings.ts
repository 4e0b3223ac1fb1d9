// What the PostgreSQL engine derives from a site: the container that runs
// postgres, where its data lives, how the primary and the standby are
// reached, the replication slots and which Secret holds which credentials.
// Pure.
import type { V1Container, V1PodTemplateSpec, V1Service, V1VolumeMount } from '@kubernetes/client-node';
import type { StandbySite } from '../../api/site.ts';
import type { EngineSpec } from '../../api/spec.ts';
import type { Side } from '../../api/status.ts';
import { names } from '../../site/names.ts';
import { isStatefulSet, podTemplateOf, type Workload } from '../../site/workload.ts';
import type { EngineContext } from '../engine.ts';
import type { ServerAddress } from './commands.ts';
import { crossSiteEndpoint, endpointAddress } from './endpoint.ts';
import { synchronousStandbyNames } from './sql.ts';
import { slotName } from './script-parts.ts';

export type PostgresqlSpec = NonNullable<EngineSpec['postgresql']>;

/** The site's engine.postgresql block; the schema requires it whenever this engine is selected. */
export function pgSpec(site: StandbySite): PostgresqlSpec {
  const spec = site.spec.engine.postgresql;
  if (!spec) throw new Error(`StandbySite ${site.metadata.name}: engine.postgresql is required for engine type postgresql`);
  return spec;
}

/** The container that runs postgres: the one named in the spec, else the first. */
export function postgresContainer(template: V1PodTemplateSpec, name: string | undefined): V1Container | undefined {
  const containers = template.spec?.containers ?? [];
  return name === undefined ? containers[0] : containers.find((c) => c.name === name);
}

function under(path: string, dir: string): boolean {
  const d = dir.replace(/\/+$/, '');
  return path === d || path.startsWith(`${d}/`) || d === '';
}

/** The volume mount holding the data directory (the deepest mount containing it). */
export function dataMount(container: V1Container, dataDirectory: string): V1VolumeMount | undefined {
  return (container.volumeMounts ?? [])
    .filter((m) => under(dataDirectory, m.mountPath))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
}

/**
 * The prefix of the site's replication slots: slot names allow only a-z, 0-9
 * and _, at most 63 characters (site names are at most 40).
 */
export function slotPrefix(site: string): string {
  return `standby_${site.replace(/[^a-z0-9]/g, '_')}`.slice(0, 56);
}

/** The slots (= application names) of the standby's replicas; replica 0 is the one promotion promotes. */
export function standbySlots(site: StandbySite, primary: Workload): string[] {
  const replicas = isStatefulSet(primary) ? (site.spec.hot?.replicas ?? 1) : 1;
  return Array.from({ length: replicas }, (_, i) => slotName(slotPrefix(site.metadata.name), i));
}

/** The synchronous_standby_names value the primary gets in synchronous mode. */
export function managedSynchronousNames(site: StandbySite): string {
  return synchronousStandbyNames(slotName(slotPrefix(site.metadata.name), 0));
}

/**
 * The Service port that leads to the server's port: the one whose targetPort
 * is that number or names a container port with it; else the server port.
 */
export function servicePort(service: V1Service | undefined, container: V1Container | undefined, port: number): number {
  for (const p of service?.spec?.ports ?? []) {
    const target = p.targetPort ?? p.port;
    if (typeof target === 'number' && target === port) return p.port;
    if (typeof target === 'string') {
      if (/^\d+$/.test(target) && Number(target) === port) return p.port;
      if (container?.ports?.some((cp) => cp.name === target && cp.containerPort === port)) return p.port;
    }
  }
  return port;
}

/**
 * The primary, reached through its own Service's DNS name (the engine's Jobs and init
 * containers); a primary in another cluster through engine.postgresql.primaryEndpoint, over TLS.
 */
export function primaryAddress(ctx: EngineContext): ServerAddress {
  const spec = pgSpec(ctx.site);
  const endpoint = crossSiteEndpoint(ctx.site);
  if (endpoint) return endpointAddress(endpoint, spec.database);
  const ns = ctx.site.metadata.namespace;
  const container = postgresContainer(podTemplateOf(ctx.primary), spec.container);
  return {
    host: `${ctx.site.spec.primary.service}.${ns}.svc`,
    port: servicePort(ctx.primaryService, container, spec.port),
    database: spec.database,
  };
}

/**
 * The standby replica that promotion promotes, through the engine's headless
 * Service: replica 0's own DNS name for a StatefulSet, the Service's (its one
 * pod) for a Deployment.
 */
export function standbyAddress(ctx: EngineContext): ServerAddress {
  const spec = pgSpec(ctx.site);
  const ns = ctx.site.metadata.namespace;
  const svc = names.standbyService(ctx.site.metadata.name);
  const host = isStatefulSet(ctx.primary) ? `${names.standby(ctx.site.metadata.name)}-0.${svc}.${ns}.svc` : `${svc}.${ns}.svc`;
  return { host, port: spec.port, database: spec.database };
}

/** Where each Secret is named in the spec, for messages. */
export const SECRET_FIELDS = {
  replication: 'spec.engine.postgresql.replicationSecret',
  superuser: 'spec.engine.postgresql.superuserSecret',
} as const;

export const SECRET_KEYS = { username: 'username', password: 'password' } as const;

/** The Secret with superuser credentials (promotion, dumps, restores, synchronous_standby_names): superuserSecret, else replicationSecret. */
export function superuserSecret(spec: PostgresqlSpec): { name: string; field: string } {
  return spec.superuserSecret
    ? { name: spec.superuserSecret, field: SECRET_FIELDS.superuser }
    : { name: spec.replicationSecret, field: SECRET_FIELDS.replication };
}

/**
 * The user the engine's Jobs run as: the postgres container's (or pod's)
 * runAsUser when set and not root, else the postgres user of the official
 * images (999 on Debian, 70 on Alpine). initdb and pg_ctl refuse root, and
 * the files must belong to whoever runs postgres.
 */
export function jobUser(template: V1PodTemplateSpec, container: V1Container): { uid: number; gid: number; fsGroup: number } {
  const podSc = template.spec?.securityContext;
  const sc = container.securityContext;
  const nonRoot = (n: number | undefined) => (n !== undefined && n > 0 ? n : undefined);
  const uid = nonRoot(sc?.runAsUser) ?? nonRoot(podSc?.runAsUser) ?? (/alpine/.test(container.image ?? '') ? 70 : 999);
  const gid = nonRoot(sc?.runAsGroup) ?? nonRoot(podSc?.runAsGroup) ?? uid;
  return { uid, gid, fsGroup: podSc?.fsGroup ?? gid };
}

/** The slot (and application_name) on the serving standby through which the re-protected primary streams. */
export function primarySlot(site: StandbySite): string {
  return `${slotPrefix(site.metadata.name)}_primary`.slice(0, 63);
}

/** Which Service leads to which side, and the replicas that stream from the serving one. */
export interface Sides {
  serving: Side;
  /** The Service in front of the serving server. */
  servingService: string;
  /** Whether that Service also leads to servers in recovery, to be skipped (the standby's replicas 1..n). */
  servingSharesService: boolean;
  /** The Service in front of the side that follows it (the one a promotion or failback would promote). */
  followerService: string;
  /** Application names (= slots) of the followers, the one that would take over first. */
  followers: string[];
}

/** The two sides as they are now: the declared topology, or the standby serving and the primary re-protected as its standby. */
export function sidesOf(ctx: EngineContext): Sides {
  const standby = names.standbyService(ctx.site.metadata.name);
  const primary = ctx.site.spec.primary.service;
  if (ctx.serving === 'standby') {
    return { serving: 'standby', servingService: standby, servingSharesService: true, followerService: primary, followers: [primarySlot(ctx.site)] };
  }
  return { serving: 'primary', servingService: primary, servingSharesService: false, followerService: standby, followers: standbySlots(ctx.site, ctx.primary) };
}

/**
 * Why the side that follows the serving standby cannot be reached, if so:
 * with traffic.mode primaryService the primary's own Service selects the
 * standby's pods while the standby serves, so no Service leads to the old
 * (re-protected) primary. Re-protection itself addresses the standby and
 * works; measuring the divergence, proving the catch-up and the failback's
 * promotion do not, and are refused rather than aimed at the wrong server.
 */
export function followerUnreachable(ctx: EngineContext): string | undefined {
  if (ctx.serving !== 'standby' || ctx.site.spec.traffic.mode !== 'primaryService') return undefined;
  return `with traffic.mode primaryService the primary's Service ${ctx.site.spec.primary.service} selects the standby's pods while the standby serves, so the PostgreSQL engine cannot reach the old primary through it; failback needs traffic.mode operatorService`;
}
