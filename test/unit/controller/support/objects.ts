// The objects a reconcile test starts from: a primary StatefulSet with its pod, claim and
// Service as Kubernetes would show them, and StandbySites.
import type { V1PersistentVolumeClaim, V1Pod, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../../../../src/api/site.ts';
import type { KubeObject } from '../../../../src/k8s/types.ts';
import { NS } from './world.ts';

export function primaryStatefulSet(name = 'db'): V1StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace: NS, labels: { app: name }, annotations: { 'example.com/owner': 'team-data' } },
    spec: {
      replicas: 1,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, team: 'data' } },
        spec: {
          containers: [
            {
              name: 'main',
              image: 'example.invalid/db:1',
              ports: [{ containerPort: 5432, name: 'db', protocol: 'TCP' }],
              volumeMounts: [{ name: 'data', mountPath: '/data' }],
              terminationMessagePath: '/dev/termination-log',
              imagePullPolicy: 'IfNotPresent',
            },
          ],
          restartPolicy: 'Always',
          dnsPolicy: 'ClusterFirst',
        },
      },
      volumeClaimTemplates: [
        { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
      ],
    },
    status: { replicas: 1, readyReplicas: 1, currentRevision: `${name}-abc`, updateRevision: `${name}-abc`, observedGeneration: 1 },
  };
}

export function pod(name: string, labels: Record<string, string>, owner: { kind: string; name: string }, ready: boolean): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: NS,
      labels,
      ownerReferences: [{ apiVersion: 'apps/v1', kind: owner.kind, name: owner.name, uid: `uid-${owner.name}`, controller: true }],
    },
    spec: { containers: [{ name: 'main', image: 'example.invalid/db:1' }], nodeName: 'node-1' },
    status: {
      phase: 'Running',
      podIP: '10.0.0.7',
      conditions: [
        { type: 'Initialized', status: 'True' },
        { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: '2026-03-01T11:00:00Z' as unknown as Date },
        { type: 'ContainersReady', status: ready ? 'True' : 'False' },
      ],
      containerStatuses: [{ name: 'main', ready, restartCount: 0, image: 'example.invalid/db:1', imageID: 'sha256:0', started: ready }],
    },
  };
}

export function primaryPod(ready = true, name = 'db'): V1Pod {
  return pod(`${name}-0`, { app: name, team: 'data', 'controller-revision-hash': `${name}-abc` }, { kind: 'StatefulSet', name }, ready);
}

export function primaryService(name = 'db'): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: NS },
    spec: { selector: { app: name }, ports: [{ name: 'db', port: 5432, targetPort: 5432, protocol: 'TCP' }], clusterIP: '10.96.0.10', type: 'ClusterIP' },
  };
}

export function primaryClaim(name = 'db'): V1PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: `data-${name}-0`, namespace: NS, labels: { app: name } },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'standard', volumeName: 'pv-1' },
    status: { phase: 'Bound', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'] },
  };
}

export function site(name: string, spec: Record<string, unknown>): KubeObject & { spec: unknown } {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace: NS },
    spec: { primary: { workload: { kind: 'StatefulSet', name: 'db' }, service: 'db' }, ...spec },
  };
}

type Obj = KubeObject & Record<string, unknown>;
type Spec = Record<string, unknown>;

function defaultPodSpec(spec: Spec | undefined): void {
  if (!spec) return;
  spec.schedulerName ??= 'default-scheduler';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.securityContext ??= {};
  spec.dnsPolicy ??= 'ClusterFirst';
  for (const c of (spec.containers ?? []) as Spec[]) {
    c.terminationMessagePolicy ??= 'File';
    c.resources ??= {};
  }
}

/**
 * What the API server and Kubernetes' controllers add to the objects the operator writes, as a
 * real cluster shows them: defaulted fields, status, managedFields and others' annotations. The
 * caches must keep, of all this, what the controller reads and nothing it needs less.
 */
export function asKubernetesStoresIt(plural: string, o: Obj): void {
  const meta = o.metadata ?? {};
  meta.managedFields = [{ manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:status': {} } }];
  meta.annotations = { ...meta.annotations, 'example.com/audit': 'seen by the audit tool', 'kubectl.kubernetes.io/last-applied-configuration': '{"a":"b"}' };
  const spec = o.spec as Spec | undefined;
  switch (plural) {
    case 'statefulsets':
    case 'deployments': {
      if (!spec) break;
      if (plural === 'statefulsets') {
        spec.updateStrategy ??= { type: 'RollingUpdate', rollingUpdate: { partition: 0 } };
        spec.podManagementPolicy ??= 'OrderedReady';
        for (const t of (spec.volumeClaimTemplates ?? []) as Spec[]) {
          t.status ??= { phase: 'Pending' };
          (t.spec as Spec).volumeMode ??= 'Filesystem';
        }
      } else {
        spec.strategy ??= { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } };
        spec.progressDeadlineSeconds ??= 600;
      }
      spec.revisionHistoryLimit ??= 10;
      defaultPodSpec((spec.template as Spec | undefined)?.spec as Spec | undefined);
      o.status = { observedGeneration: meta.generation, replicas: spec.replicas, readyReplicas: spec.replicas, currentRevision: `${meta.name ?? ''}-1` };
      break;
    }
    case 'services':
      if (!spec) break;
      spec.clusterIP ??= '10.96.7.7';
      spec.clusterIPs ??= [spec.clusterIP];
      spec.sessionAffinity ??= 'None';
      spec.ipFamilies ??= ['IPv4'];
      spec.ipFamilyPolicy ??= 'SingleStack';
      spec.internalTrafficPolicy ??= 'Cluster';
      for (const p of (spec.ports ?? []) as Spec[]) p.protocol ??= 'TCP';
      o.status = { loadBalancer: {} };
      break;
    case 'persistentvolumeclaims':
      if (!spec) break;
      spec.volumeName ??= `pvc-${meta.uid ?? ''}`;
      spec.volumeMode ??= 'Filesystem';
      meta.finalizers = ['kubernetes.io/pvc-protection'];
      meta.annotations['pv.kubernetes.io/bind-completed'] = 'yes';
      o.status = { phase: 'Bound', accessModes: spec.accessModes, capacity: { storage: ((spec.resources as Spec | undefined)?.requests as Spec | undefined)?.storage ?? '1Gi' } };
      break;
    case 'cronjobs': {
      const jobSpec = ((spec?.jobTemplate as Spec | undefined)?.spec ?? {}) as Spec;
      defaultPodSpec((jobSpec.template as Spec | undefined)?.spec as Spec | undefined);
      o.status = {};
      break;
    }
    case 'serviceaccounts':
      o.secrets = [{ name: `${meta.name ?? ''}-token` }];
      break;
    case 'networkpolicies':
      o.status = {};
      break;
  }
}
