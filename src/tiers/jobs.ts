// The scheduled copy Jobs (snapshot and sync CronJobs) and the identity they run as.
import type { V1CronJob, V1Job, V1PodTemplateSpec } from '@kubernetes/client-node';
import type { IRole, IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import type { IServiceAccount } from 'kubernetes-models/v1';
import type { StandbySite } from '../api/site.ts';
import { GROUP, PLURAL } from '../api/site.ts';
import { names, ownedMeta, siteLabels, type Role } from '../site/names.ts';
import { mountClaims } from '../site/workload.ts';

/** How long one copy Job may run before Kubernetes stops it, so a stuck run never blocks the next. */
export const COPY_JOB_DEADLINE_SECONDS = 3600;

/** The pod template of a Job running one of the operator's own subcommands. */
export function operatorPod(site: StandbySite, image: string, role: Role, args: string[]): V1PodTemplateSpec {
  return {
    metadata: { labels: siteLabels(site.metadata.name, role) },
    spec: {
      serviceAccountName: names.copier(site.metadata.name),
      restartPolicy: 'Never',
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: role,
          image,
          args,
          resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  };
}

/** A user's or engine's pod template, labelled as the site's and defaulted to run once. */
export function jobPod(site: StandbySite, role: Role, template: V1PodTemplateSpec): V1PodTemplateSpec {
  return {
    ...template,
    metadata: {
      ...template.metadata,
      labels: { ...template.metadata?.labels, ...siteLabels(site.metadata.name, role) },
    },
    spec: { ...template.spec!, restartPolicy: template.spec?.restartPolicy ?? 'Never' },
  };
}

export interface JobInput {
  name: string;
  role: Role;
  /** The user's or engine's pod template (see jobPod). */
  template: V1PodTemplateSpec;
  /** PVCs mounted as the template's volumes of those names (fresh copies the Job fills, or reads). */
  claims?: Readonly<Record<string, string>>;
  backoffLimit: number;
  activeDeadlineSeconds: number;
  ttlSecondsAfterFinished?: number;
}

/** A one-off Job of the site (promote, restore, transfer): owned by it, labelled with its role. */
export function buildJob(site: StandbySite, i: JobInput): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: ownedMeta(site, i.name, i.role),
    spec: {
      backoffLimit: i.backoffLimit,
      activeDeadlineSeconds: i.activeDeadlineSeconds,
      ...(i.ttlSecondsAfterFinished !== undefined ? { ttlSecondsAfterFinished: i.ttlSecondsAfterFinished } : {}),
      template: mountClaims(jobPod(site, i.role, i.template), i.claims ?? {}),
    },
  };
}

export interface ScheduleSpec {
  schedule: string;
  timeZone?: string | undefined;
  suspend: boolean;
}

export function buildCronJob(
  site: StandbySite,
  name: string,
  role: Role,
  schedule: ScheduleSpec,
  pod: V1PodTemplateSpec,
): V1CronJob {
  const labels = siteLabels(site.metadata.name, role);
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: ownedMeta(site, name, role),
    spec: {
      schedule: schedule.schedule,
      ...(schedule.timeZone ? { timeZone: schedule.timeZone } : {}),
      suspend: schedule.suspend,
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 600,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels },
        spec: {
          backoffLimit: 2,
          activeDeadlineSeconds: COPY_JOB_DEADLINE_SECONDS,
          template: pod,
        },
      },
    },
  };
}

/** The ServiceAccount, Role and RoleBinding that copy Jobs run as: exactly what they touch. */
export function buildCopierIdentity(site: StandbySite, imagePullSecrets: readonly string[] = []): [IServiceAccount, IRole, IRoleBinding] {
  const name = names.copier(site.metadata.name);
  const meta = ownedMeta(site, name, 'copier');
  return [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: meta,
      automountServiceAccountToken: true,
      ...(imagePullSecrets.length ? { imagePullSecrets: imagePullSecrets.map((name) => ({ name })) } : {}),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta,
      rules: [
        { apiGroups: [GROUP], resources: [PLURAL], resourceNames: [site.metadata.name], verbs: ['get'] },
        // Copies owned by the site set blockOwnerDeletion, which OwnerReferencesPermissionEnforcement checks against this.
        { apiGroups: [GROUP], resources: [`${PLURAL}/finalizers`], resourceNames: [site.metadata.name], verbs: ['update'] },
        { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get', 'list', 'create', 'delete', 'patch'] },
        { apiGroups: ['snapshot.storage.k8s.io'], resources: ['volumesnapshots'], verbs: ['get', 'list', 'create', 'delete', 'patch'] },
        { apiGroups: ['apps'], resources: ['statefulsets', 'deployments'], verbs: ['get'] },
        { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'create', 'delete'] },
        { apiGroups: [''], resources: ['events'], verbs: ['create'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: site.metadata.namespace }],
    },
  ];
}
