// Checks built objects against the Kubernetes API's JSON schemas, which kubernetes-models ships
// with each model class (issue #11): a wrong field name, a number where the API wants a string,
// a missing required field fail here rather than at the API server in the cluster tests. The
// operator itself imports only the models' types (test/unit/k8s/layers.test.ts); the classes,
// and so the schemas, load in the tests alone.
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Lease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Event } from 'kubernetes-models/v1/Event';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';

interface ModelClass {
  readonly apiVersion: string;
  readonly kind: string;
  new (data: never): { validate(): void };
}

const models: readonly ModelClass[] = [
  ConfigMap,
  CronJob,
  CustomResourceDefinition,
  Deployment,
  Event,
  Job,
  Lease,
  NetworkPolicy,
  PersistentVolumeClaim,
  Pod,
  Role,
  RoleBinding,
  Secret,
  Service,
  ServiceAccount,
  StatefulSet,
];
const byType = new Map(models.map((m) => [`${m.apiVersion}/${m.kind}`, m]));

/**
 * Kinds kubernetes-models has no model for: CRDs. VolumeSnapshot belongs to the external
 * snapshotter's CRD, and the operator's own kinds are checked by their zod schemas (src/api/).
 */
const withoutModel = new Set(['snapshot.storage.k8s.io/v1/VolumeSnapshot', 'standby.dev/v1alpha1/StandbySite', 'standby.dev/v1alpha1/StandbySiteGuard']);

interface Built {
  apiVersion?: string | undefined;
  kind?: string | undefined;
  metadata?: { name?: string | undefined } | undefined;
}

/** Throws unless obj is valid by its kind's schema; returns it, so a builder's call can be wrapped. */
export function validated<T extends Built>(obj: T): T {
  // The model's constructor fills apiVersion and kind in by itself: a builder must set them.
  const type = `${obj.apiVersion ?? '(no apiVersion)'}/${obj.kind ?? '(no kind)'}`;
  if (withoutModel.has(type)) return obj;
  const model = byType.get(type);
  if (!model) throw new Error(`no model for ${type} (${obj.metadata?.name ?? 'unnamed'}): add it to test/unit/support/models.ts`);
  try {
    // JSON first, as the API server would see it: undefined fields gone.
    new model(JSON.parse(JSON.stringify(obj)) as never).validate();
  } catch (e) {
    throw new Error(`${type} ${obj.metadata?.name ?? 'unnamed'} fails the Kubernetes schema: ${(e as Error).message}`, { cause: e });
  }
  return obj;
}

/** validated() for each object of a list. */
export function allValidated<T extends Built>(objs: readonly T[]): T[] {
  return objs.map(validated);
}

/** A builder whose every result is validated(): the tests keep calling it by its own name. */
export function validating<A extends unknown[], R extends Built>(build: (...args: A) => R): (...args: A) => R {
  return (...args) => validated(build(...args));
}

/**
 * Why obj fails its kind's schema, or undefined when it passes or its kind has no model here (a
 * fake API server takes any kind; the builders' tests use validated(), which refuses unknown ones).
 */
export function schemaProblem<T extends Built>(obj: T): string | undefined {
  if (!byType.has(`${obj.apiVersion ?? ''}/${obj.kind ?? ''}`)) return undefined;
  try {
    validated(obj);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
