// API resources and how their URLs are built. `R` holds the built-in kinds the
// operator reads or writes; a custom resource is declared where its API lives
// (the StandbySite in src/api/resource.ts), so this layer knows no domain.

export interface Resource {
  group: string; // '' for the core group
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

export function resource(group: string, version: string, plural: string, kind: string, namespaced = true): Resource {
  return { group, version, plural, kind, namespaced };
}

const r = resource;

export const R = {
  pod: r('', 'v1', 'pods', 'Pod'),
  service: r('', 'v1', 'services', 'Service'),
  pvc: r('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim'),
  secret: r('', 'v1', 'secrets', 'Secret'),
  serviceAccount: r('', 'v1', 'serviceaccounts', 'ServiceAccount'),
  event: r('', 'v1', 'events', 'Event'),
  namespace: r('', 'v1', 'namespaces', 'Namespace', false),
  statefulSet: r('apps', 'v1', 'statefulsets', 'StatefulSet'),
  deployment: r('apps', 'v1', 'deployments', 'Deployment'),
  cronJob: r('batch', 'v1', 'cronjobs', 'CronJob'),
  job: r('batch', 'v1', 'jobs', 'Job'),
  networkPolicy: r('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy'),
  role: r('rbac.authorization.k8s.io', 'v1', 'roles', 'Role'),
  roleBinding: r('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding'),
  lease: r('coordination.k8s.io', 'v1', 'leases', 'Lease'),
  volumeSnapshot: r('snapshot.storage.k8s.io', 'v1', 'volumesnapshots', 'VolumeSnapshot'),
  endpointSlice: r('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice'),
  crd: r('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false),
} as const;

export function apiVersionOf(res: Resource): string {
  return res.group === '' ? res.version : `${res.group}/${res.version}`;
}

/** The collection URL path of a resource, in one namespace or (namespace undefined) across all. */
export function collectionPath(res: Resource, namespace?: string): string {
  const base = res.group === '' ? `/api/${res.version}` : `/apis/${res.group}/${res.version}`;
  return res.namespaced && namespace !== undefined
    ? `${base}/namespaces/${encodeURIComponent(namespace)}/${res.plural}`
    : `${base}/${res.plural}`;
}

export function objectPath(res: Resource, namespace: string | undefined, name: string, subresource?: string): string {
  const path = `${collectionPath(res, namespace)}/${encodeURIComponent(name)}`;
  return subresource ? `${path}/${subresource}` : path;
}

/** A resource by its kind, for objects the builders produce: a built-in kind or one of `extra`. */
export function resourceOfKind(kind: string, extra: readonly Resource[] = []): Resource {
  const found = [...Object.values(R), ...extra].find((res) => res.kind === kind);
  if (!found) throw new Error(`no resource known for kind ${kind}`);
  return found;
}
