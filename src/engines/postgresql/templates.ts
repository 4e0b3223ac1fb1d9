// The pod templates of the PostgreSQL engine, built from the scripts in
// script-*.ts with the options of script-options.ts: the hot standby's
// bootstrap init container, and the warm copy, cold dump, cold restore, hot
// promote, re-protect, failback and drill Jobs. Pure.
import type {
  V1Container,
  V1EnvVar,
  V1PodSecurityContext,
  V1PodTemplateSpec,
  V1SecurityContext,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { names } from '../../site/names.ts';
import { podTemplateOf } from '../../site/workload.ts';
import type { EngineContext, ReprotectTarget } from '../engine.ts';
import { crossSiteEndpoint, withPrimaryCa } from './endpoint.ts';
import { standbyBootstrapScript } from './script-bootstrap.ts';
import { drillCopyScript, drillVerifyScript } from './script-drill.ts';
import { dumpScript } from './script-dump.ts';
import {
  bootstrapOptions,
  drillCopyOptions,
  drillVerifyOptions,
  DUMP_MOUNT,
  dumpOptions,
  failbackOptions,
  promoteOptions,
  reprotectOptions,
  restoreOptions,
  warmCopyOptions,
} from './script-options.ts';
import { ENV, TERMINATION_LOG } from './script-parts.ts';
import { promoteScript } from './script-promote.ts';
import { reprotectScript } from './script-reprotect.ts';
import { restoreScript } from './script-restore.ts';
import { warmCopyScript } from './script-warm-copy.ts';
import {
  dataMount,
  jobUser,
  pgSpec,
  postgresContainer,
  followerUnreachable,
  SECRET_KEYS,
  superuserSecret,
} from './settings.ts';

export const BOOTSTRAP_CONTAINER = 'standby-bootstrap';
export const DUMP_VOLUME = 'standby-operator-dumps';

function secretEnv(name: string, secret: string, key: string): V1EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

/** PGUSER and PGPASSWORD from a Secret's username and password keys. */
function loginEnv(secret: string): V1EnvVar[] {
  return [secretEnv(ENV.user, secret, SECRET_KEYS.username), secretEnv(ENV.password, secret, SECRET_KEYS.password)];
}

/** The superuser's login in PG_SUPERUSER and PG_SUPERUSER_PASSWORD (pg_rewind, synchronous_standby_names). */
function superuserEnv(ctx: EngineContext): V1EnvVar[] {
  const su = superuserSecret(pgSpec(ctx.site));
  return [secretEnv(ENV.superuser, su.name, SECRET_KEYS.username), secretEnv(ENV.superuserPassword, su.name, SECRET_KEYS.password)];
}

/** The primary's postgres container and the mount of its data directory, or undefined (check() reports why). */
function primaryParts(ctx: EngineContext): { template: V1PodTemplateSpec; container: V1Container; mount: V1VolumeMount } | undefined {
  const spec = pgSpec(ctx.site);
  const template = podTemplateOf(ctx.primary);
  const container = postgresContainer(template, spec.container);
  const mount = container && dataMount(container, spec.dataDirectory);
  return container && mount ? { template, container, mount } : undefined;
}

/**
 * Non-root, no privilege escalation, the image's postgres user (see jobUser).
 * fsGroup only for fresh volumes: on an existing data directory the kubelet
 * would chown every file and make the directory group-writable, which
 * postgres refuses (and which takes long on a large volume); its files
 * belong to the postgres user already.
 */
function jobSecurity(
  template: V1PodTemplateSpec,
  container: V1Container,
  freshVolumes = true,
): { pod: V1PodSecurityContext; container: V1SecurityContext } {
  const u = jobUser(template, container);
  return {
    pod: {
      runAsNonRoot: true,
      runAsUser: u.uid,
      runAsGroup: u.gid,
      ...(freshVolumes ? { fsGroup: u.fsGroup } : {}),
      seccompProfile: template.spec?.securityContext?.seccompProfile ?? { type: 'RuntimeDefault' },
    },
    container: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
  };
}

interface JobPodInput {
  name: string;
  script: string;
  env: V1EnvVar[];
  mounts: V1VolumeMount[];
  volumes?: NonNullable<V1PodTemplateSpec['spec']>['volumes'];
  /** The Job works on existing volumes (see jobSecurity). */
  existingVolumes?: boolean;
}

/** A Job pod running one script in the primary's postgres image (same client versions as the server). */
function jobPodTemplate(i: JobPodInput, parts: { template: V1PodTemplateSpec; container: V1Container }): V1PodTemplateSpec {
  const security = jobSecurity(parts.template, parts.container, !i.existingVolumes);
  return {
    metadata: {},
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      securityContext: security.pod,
      ...(parts.template.spec?.imagePullSecrets ? { imagePullSecrets: parts.template.spec.imagePullSecrets } : {}),
      containers: [
        {
          name: i.name,
          image: parts.container.image,
          ...(parts.container.imagePullPolicy ? { imagePullPolicy: parts.container.imagePullPolicy } : {}),
          command: ['/bin/sh', '-c', i.script],
          env: i.env,
          volumeMounts: i.mounts,
          resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '2Gi' } },
          securityContext: security.container,
        },
      ],
      volumes: i.volumes ?? [],
    },
  };
}

/**
 * hot: the standby's pod template gets an init container (after the user's
 * own) that bootstraps an empty data directory as a streaming standby; warm
 * and cold copies start as they are (a base backup or restored dump starts as
 * a primary).
 */
export function standbyTemplate(ctx: EngineContext, template: V1PodTemplateSpec): V1PodTemplateSpec {
  if (ctx.tier !== 'hot') return template;
  const spec = pgSpec(ctx.site);
  const container = postgresContainer(template, spec.container);
  const mount = container && dataMount(container, spec.dataDirectory);
  if (!container || !mount) return template;
  const init: V1Container = {
    name: BOOTSTRAP_CONTAINER,
    image: container.image,
    ...(container.imagePullPolicy ? { imagePullPolicy: container.imagePullPolicy } : {}),
    command: ['/bin/sh', '-c', standbyBootstrapScript(bootstrapOptions(ctx))],
    env: [
      ...loginEnv(spec.replicationSecret),
      ...superuserEnv(ctx),
      { name: ENV.podName, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ],
    volumeMounts: [mount],
    ...(container.resources ? { resources: container.resources } : {}),
    ...(container.securityContext ? { securityContext: container.securityContext } : {}),
  };
  const others = (template.spec?.initContainers ?? []).filter((c) => c.name !== BOOTSTRAP_CONTAINER);
  const built: V1PodTemplateSpec = { ...template, spec: { ...template.spec!, initContainers: [...others, init] } };
  // Across sites both verify the primary with the CA: the bootstrap's connections and postgres's primary_conninfo.
  const endpoint = crossSiteEndpoint(ctx.site);
  return endpoint ? withPrimaryCa(built, endpoint, [BOOTSTRAP_CONTAINER, container.name]) : built;
}

/** warm, method engine: a verified base backup into the fresh volumes (mounted under the primary's volume names). */
export function copyTemplate(ctx: EngineContext): V1PodTemplateSpec | undefined {
  const parts = primaryParts(ctx);
  if (!parts) return undefined;
  const spec = pgSpec(ctx.site);
  return jobPodTemplate(
    {
      name: 'base-backup',
      script: warmCopyScript(warmCopyOptions(ctx)),
      env: loginEnv(spec.replicationSecret),
      mounts: [parts.mount],
    },
    parts,
  );
}

const dumpVolume = (ctx: EngineContext) => ({
  name: DUMP_VOLUME,
  persistentVolumeClaim: { claimName: names.dumpClaim(ctx.site.metadata.name) },
});

/** cold, method engine: the scheduled logical dump onto the dump PVC, with retention. */
export function dumpTemplate(ctx: EngineContext): V1PodTemplateSpec | undefined {
  const parts = primaryParts(ctx);
  if (!parts) return undefined;
  return jobPodTemplate(
    {
      name: 'dump',
      script: dumpScript(dumpOptions(ctx)),
      env: loginEnv(superuserSecret(pgSpec(ctx.site)).name),
      mounts: [{ name: DUMP_VOLUME, mountPath: DUMP_MOUNT }],
      volumes: [dumpVolume(ctx)],
    },
    parts,
  );
}

/** cold, method engine: restores the newest dump into the fresh volumes (mounted under the primary's volume names). */
export function restoreTemplate(ctx: EngineContext): V1PodTemplateSpec | undefined {
  const parts = primaryParts(ctx);
  if (!parts) return undefined;
  return jobPodTemplate(
    {
      name: 'restore',
      script: restoreScript(restoreOptions(ctx)),
      env: [],
      mounts: [{ name: DUMP_VOLUME, mountPath: DUMP_MOUNT, readOnly: true }, parts.mount],
      volumes: [dumpVolume(ctx)],
    },
    parts,
  );
}

/** hot: pg_promote() on replica 0 of the standby, waiting until it left recovery. */
export function promoteTemplate(ctx: EngineContext): V1PodTemplateSpec | undefined {
  if (ctx.tier !== 'hot') return undefined;
  const parts = primaryParts(ctx);
  if (!parts) return undefined;
  return jobPodTemplate(
    {
      name: 'promote',
      script: promoteScript(promoteOptions(ctx)),
      env: loginEnv(superuserSecret(pgSpec(ctx.site)).name),
      mounts: [],
    },
    parts,
  );
}

/**
 * hot: the re-protect Job, on the old primary's data volume (its claim from
 * target.claims, the primary scaled to 0): rewinds it to (or re-seeds it
 * from) replica 0 of the standby and makes it that server's standby. The
 * replication login streams and goes into primary_conninfo; the superuser
 * runs pg_rewind. Undefined when the data volume is not among the claims.
 */
export function reprotectTemplate(ctx: EngineContext, target: ReprotectTarget): V1PodTemplateSpec | undefined {
  if (ctx.tier !== 'hot') return undefined;
  const parts = primaryParts(ctx);
  const claim = parts && target.claims[parts.mount.name];
  if (!parts || !claim) return undefined;
  return jobPodTemplate(
    {
      name: 'reprotect',
      script: reprotectScript(reprotectOptions(ctx)),
      env: [...loginEnv(pgSpec(ctx.site).replicationSecret), ...superuserEnv(ctx)],
      mounts: [parts.mount],
      volumes: [{ name: parts.mount.name, persistentVolumeClaim: { claimName: claim } }],
      existingVolumes: true,
    },
    parts,
  );
}

/**
 * hot: the failback's promote Job, pg_promote() on the re-protected primary
 * through its Service. Undefined when that Service leads to the standby
 * (traffic.mode primaryService, see followerUnreachable): it would promote
 * nothing.
 */
export function failbackTemplate(ctx: EngineContext): V1PodTemplateSpec | undefined {
  if (ctx.tier !== 'hot' || followerUnreachable({ ...ctx, serving: 'standby' })) return undefined;
  const parts = primaryParts(ctx);
  if (!parts) return undefined;
  return jobPodTemplate(
    {
      name: 'failback',
      script: promoteScript(failbackOptions(ctx)),
      env: loginEnv(superuserSecret(pgSpec(ctx.site)).name),
      mounts: [],
    },
    parts,
  );
}

/**
 * hot drills: a base backup of the running standby (replica 0, through the engine's headless
 * Service) into the drill's scratch volume, with the replication Secret. Other tiers restore what
 * they already have (a warm copy's clone, a cold dump).
 */
export function drillCopyTemplate(ctx: EngineContext): V1PodTemplateSpec | undefined {
  if (ctx.tier !== 'hot') return undefined;
  const parts = primaryParts(ctx);
  if (!parts) return undefined;
  return jobPodTemplate(
    {
      name: 'drill-copy',
      script: drillCopyScript(drillCopyOptions(ctx)),
      env: loginEnv(pgSpec(ctx.site).replicationSecret),
      mounts: [parts.mount],
    },
    parts,
  );
}

/** A drill's scratch copy starts as it is (never the hot standby's bootstrap, which would copy the primary). */
export function drillTemplate(_ctx: EngineContext, template: V1PodTemplateSpec): V1PodTemplateSpec {
  return template;
}

/** The drill's check of its scratch copy, as the superuser: left recovery, answers reads, newest replayed commit. */
export function verifyTemplate(ctx: EngineContext): V1PodTemplateSpec | undefined {
  const parts = primaryParts(ctx);
  if (!parts) return undefined;
  const template = jobPodTemplate(
    {
      name: 'drill-check',
      script: drillVerifyScript(drillVerifyOptions(ctx)),
      env: loginEnv(superuserSecret(pgSpec(ctx.site)).name),
      mounts: [],
    },
    parts,
  );
  const containers = (template.spec?.containers ?? []).map((c) => ({ ...c, terminationMessagePath: TERMINATION_LOG, terminationMessagePolicy: 'File' }));
  return { ...template, spec: { ...template.spec!, containers } };
}
