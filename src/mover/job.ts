// The mover's Jobs, as pure builders: a backup Job that reads a volume (a snapshot clone of the
// primary's claim, in the primary's cluster) into a restic repository in S3, and a restore Job
// that writes a snapshot into a fresh claim (in the standby's cluster). Both run the operator
// image's `mover` subcommand (src/cli/mover.ts), which runs restic.
import type {
  V1EnvVar,
  V1Job,
  V1OwnerReference,
  V1PodSecurityContext,
  V1PodTemplateSpec,
  V1ResourceRequirements,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { formatDuration } from '../api/duration.ts';
import type { RetentionPolicy } from '../snapshot/retention.ts';
import { repositoryUrl, type Identity, type S3Location } from './restic.ts';

export const DATA_DIR = '/data';
export const PASSWORD_DIR = '/etc/standby-operator/restic';
export const CA_DIR = '/etc/standby-operator/s3-ca';
export const CACHE_DIR = '/cache';
/** Kubernetes reads a container's termination message from here by default. */
export const RESULT_FILE = '/dev/termination-log';
export const DEFAULT_DEADLINE_SECONDS = 3600;

export interface SecretKey {
  name: string;
  key: string;
}

export interface MoverJobInput {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  ownerReferences?: V1OwnerReference[];
  /** The operator image (it holds restic). */
  image: string;
  imagePullSecrets?: readonly string[];
  serviceAccountName?: string;
  location: S3Location & { region?: string };
  /** Secret with the keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. */
  credentialsSecret: string;
  passwordSecret: SecretKey;
  /** CA bundle that signs the S3 endpoint's certificate, if not a public one. */
  caSecret?: SecretKey;
  /** The volume's name in the repository (one repository per volume). */
  volume: string;
  /** The claim the Job reads (backup) or writes (restore). */
  claim: string;
  identity: Identity;
  /**
   * The pod's security context: the workload's, so the mover reads and writes files as their
   * owner. Default: non-root uid 65532.
   */
  securityContext?: V1PodSecurityContext;
  resources?: V1ResourceRequirements;
  deadlineSeconds?: number;
}

export interface BackupJobInput extends MoverJobInput {
  retention: RetentionPolicy;
  trustMtime?: boolean;
}

export interface RestoreJobInput extends MoverJobInput {
  /** A snapshot id, or `latest`. */
  snapshot: string;
}

function env(input: MoverJobInput): V1EnvVar[] {
  const secret = (key: string): V1EnvVar => ({ name: key, valueFrom: { secretKeyRef: { name: input.credentialsSecret, key } } });
  return [
    secret('AWS_ACCESS_KEY_ID'),
    secret('AWS_SECRET_ACCESS_KEY'),
    ...(input.location.region === undefined ? [] : [{ name: 'AWS_DEFAULT_REGION', value: input.location.region }]),
    // restic assembles pack files in TMPDIR; the root filesystem is read-only.
    { name: 'TMPDIR', value: '/tmp' },
  ];
}

function commonArgs(input: MoverJobInput): string[] {
  return [
    `--repository=${repositoryUrl(input.location, input.volume)}`,
    `--password-file=${PASSWORD_DIR}/password`,
    `--cache-dir=${CACHE_DIR}`,
    ...(input.caSecret === undefined ? [] : [`--cacert=${CA_DIR}/ca.crt`]),
    `--host=${input.identity.host}`,
    ...input.identity.tags.map((t) => `--tag=${t}`),
    `--result-file=${RESULT_FILE}`,
  ];
}

function pod(input: MoverJobInput, args: string[], readOnlyData: boolean): V1PodTemplateSpec {
  const volumes: V1Volume[] = [
    { name: 'data', persistentVolumeClaim: { claimName: input.claim, readOnly: readOnlyData } },
    { name: 'password', secret: { secretName: input.passwordSecret.name, items: [{ key: input.passwordSecret.key, path: 'password' }], defaultMode: 0o400 } },
    ...(input.caSecret === undefined ? [] : [{ name: 'ca', secret: { secretName: input.caSecret.name, items: [{ key: input.caSecret.key, path: 'ca.crt' }] } }]),
    { name: 'cache', emptyDir: {} },
    { name: 'tmp', emptyDir: {} },
  ];
  const mounts: V1VolumeMount[] = [
    { name: 'data', mountPath: DATA_DIR, readOnly: readOnlyData },
    { name: 'password', mountPath: PASSWORD_DIR, readOnly: true },
    ...(input.caSecret === undefined ? [] : [{ name: 'ca', mountPath: CA_DIR, readOnly: true }]),
    { name: 'cache', mountPath: CACHE_DIR },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  return {
    metadata: { labels: input.labels },
    spec: {
      restartPolicy: 'Never',
      ...(input.serviceAccountName === undefined ? {} : { serviceAccountName: input.serviceAccountName }),
      // The mover needs no API access: its inputs are its arguments, its output the termination message.
      automountServiceAccountToken: false,
      ...(input.imagePullSecrets?.length ? { imagePullSecrets: input.imagePullSecrets.map((name) => ({ name })) } : {}),
      securityContext: input.securityContext ?? { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      volumes,
      containers: [
        {
          name: 'mover',
          image: input.image,
          args,
          env: env(input),
          volumeMounts: mounts,
          terminationMessagePolicy: 'FallbackToLogsOnError',
          resources: input.resources ?? { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '1Gi' } },
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  };
}

function job(input: MoverJobInput, template: V1PodTemplateSpec): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: input.name,
      namespace: input.namespace,
      labels: input.labels,
      ...(input.ownerReferences?.length ? { ownerReferences: input.ownerReferences } : {}),
    },
    spec: {
      backoffLimit: 2,
      activeDeadlineSeconds: input.deadlineSeconds ?? DEFAULT_DEADLINE_SECONDS,
      template,
    },
  };
}

/** The Job that backs a claim up into the repository and applies the retention. */
export function buildBackupJob(input: BackupJobInput): V1Job {
  const { keepLast, maxAgeMs } = input.retention;
  if (keepLast === undefined && maxAgeMs === undefined) throw new Error('a backup Job needs a retention (keepLast, maxAge or both)');
  const args = [
    'mover',
    'backup',
    `--source=${DATA_DIR}`,
    ...commonArgs(input),
    ...(keepLast === undefined ? [] : [`--keep-last=${keepLast}`]),
    ...(maxAgeMs === undefined ? [] : [`--max-age=${formatDuration(maxAgeMs)}`]),
    ...(input.trustMtime === true ? ['--trust-mtime'] : []),
  ];
  return job(input, pod(input, args, true));
}

/** The Job that restores a snapshot into a fresh claim (it refuses one that holds files). */
export function buildRestoreJob(input: RestoreJobInput): V1Job {
  const args = ['mover', 'restore', `--target=${DATA_DIR}`, `--snapshot=${input.snapshot}`, ...commonArgs(input)];
  return job(input, pod(input, args, false));
}
