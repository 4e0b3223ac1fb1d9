import { describe, expect, test } from 'vitest';
import type { V1Deployment, V1PersistentVolumeClaim, V1PodTemplateSpec, V1StatefulSet } from '@kubernetes/client-node';
import { validateSpec } from '../../../src/api/site.ts';
import type { SiteSpec } from '../../../src/api/spec.ts';
import { podRequests } from '../../../src/cost/requests.ts';
import { keptSnapshotSets, siteCost, storageNow, type CostInput } from '../../../src/cost/site-cost.ts';
import { primaryVolumes } from '../../../src/site/workload.ts';
import type { VolumeSnapshot } from '../../../src/snapshot/types.ts';

const Mi = 2 ** 20;
const Gi = 2 ** 30;

const template = (cpu: string, memory: string): V1PodTemplateSpec => ({
  spec: { containers: [{ name: 'db', image: 'db', resources: { requests: { cpu, memory } } }] },
});

const sts = (name: string, replicas: number, t: V1PodTemplateSpec = template('250m', '256Mi')): V1StatefulSet => ({
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name },
  spec: {
    replicas,
    serviceName: name,
    selector: { matchLabels: { app: name } },
    template: t,
    volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } } }],
  },
});

function spec(s: Record<string, unknown>): SiteSpec {
  const v = validateSpec({ primary: { workload: { kind: 'StatefulSet', name: 'db' }, service: 'db' }, ...s }, 'db');
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return v.spec;
}

const claim = (name: string, request: string, capacity?: string): V1PersistentVolumeClaim => ({
  metadata: { name },
  spec: { resources: { requests: { storage: request } } },
  ...(capacity ? { status: { capacity: { storage: capacity } } } : {}),
});

function input(s: SiteSpec, over: Partial<CostInput> = {}): CostInput {
  const primary = sts('db', 3);
  return {
    spec: s,
    now: new Date('2026-01-01T00:00:00Z'),
    primary,
    volumes: primaryVolumes(primary),
    primaryClaims: new Map([['data-db-0', claim('data-db-0', '10Gi', '10Gi')]]),
    standby: undefined,
    claims: [],
    snapshots: [],
    ...over,
  };
}

describe('podRequests', () => {
  test('containers add up; a container with only limits requests its limits', () => {
    const r = podRequests({
      spec: {
        containers: [
          { name: 'a', resources: { requests: { cpu: '250m', memory: '256Mi' } } },
          { name: 'b', resources: { limits: { cpu: '1', memory: '1Gi' } } },
          { name: 'c' },
        ],
      },
    });
    expect(r).toEqual({ milliCpu: 1250, memoryBytes: 256 * Mi + Gi });
  });

  test('an init container larger than the pod counts; sidecars (restartPolicy Always) add to both; overhead on top', () => {
    const r = podRequests({
      spec: {
        initContainers: [
          { name: 'migrate', resources: { requests: { cpu: '2', memory: '64Mi' } } },
          { name: 'proxy', restartPolicy: 'Always', resources: { requests: { cpu: '100m', memory: '32Mi' } } },
          { name: 'late-init', resources: { requests: { cpu: '500m', memory: '1Gi' } } },
        ],
        containers: [{ name: 'db', resources: { requests: { cpu: '500m', memory: '256Mi' } } }],
        overhead: { cpu: '10m', memory: '1Mi' },
      },
    });
    // cpu: max(500+100, 2000, 500+100) + 10; memory: max(256+32, 64, 1024+32) + 1 (Mi)
    expect(r).toEqual({ milliCpu: 2010, memoryBytes: (1024 + 32 + 1) * Mi });
  });

  test('no template, no requests', () => {
    expect(podRequests(undefined)).toEqual({ milliCpu: 0, memoryBytes: 0 });
  });
});

describe('siteCost', () => {
  test('hot: the standby reserves its replicas × its requests, exactly (2 × 250m = 0.5 cores)', () => {
    const s = spec({ tier: 'hot', hot: { replicas: 2 } });
    const standby = sts('db-standby', 2);
    const cost = siteCost(input(s, { standby, claims: [claim('data-db-standby-0', '10Gi', '10Gi'), claim('data-db-standby-1', '10Gi')] }));
    expect(cost).toMatchObject({ cpu: 0.5, memory: 512 * Mi, storage: 20 * Gi });
  });

  test('three replicas of 100m sum without float error', () => {
    const s = spec({ tier: 'hot', hot: { replicas: 3 } });
    expect(siteCost(input(s, { standby: sts('db-standby', 3, template('0.1', '1e3')) }))).toMatchObject({ cpu: 0.3, memory: 3000 });
  });

  test('warm: a standby at 0 replicas reserves nothing; its copies hold storage (capacity once bound, else the request)', () => {
    const s = spec({ tier: 'warm', warm: { schedule: '0 * * * *' } });
    const cost = siteCost(input(s, { standby: sts('db-standby', 0), claims: [claim('db-data-r1', '10Gi', '12Gi'), claim('db-data-r2', '10Gi')] }));
    expect(cost).toMatchObject({ cpu: 0, memory: 0, storage: 22 * Gi });
  });

  test('cold: no standby, snapshots count by restore size; a claim listed twice counts once', () => {
    const s = spec({ tier: 'cold', cold: { schedule: '0 * * * *' } });
    const snap = (name: string, restoreSize?: string): VolumeSnapshot => ({ metadata: { name }, ...(restoreSize ? { status: { restoreSize } } : {}) });
    expect(siteCost(input(s, { snapshots: [snap('a', '10Gi'), snap('b', '1Gi'), snap('c')] }))).toMatchObject({ cpu: 0, memory: 0, storage: 11 * Gi });
    const dumps = claim('db-dumps', '5Gi');
    expect(storageNow([dumps, dumps], [])).toBe(5 * Gi);
  });

  test('the what-if from the spec and the primary template, whatever the tier', () => {
    const warm = spec({ tier: 'warm', warm: { schedule: '0 * * * *' } });
    const hot = spec({ tier: 'hot', hot: { replicas: 2 } });
    const cold = spec({ tier: 'cold', cold: { schedule: '0 * * * *', retention: { keepLast: 3 } } });
    // The primary has 3 replicas: a standby runs spec.hot.replicas (1 by default), not the primary's.
    expect(siteCost(input(warm)).whatIf).toEqual({
      cold: { cpu: 0, memory: 0, storage: 7 * 10 * Gi },
      // One copy and the snapshots of the last two syncs.
      warm: { cpu: 0, memory: 0, storage: 3 * 10 * Gi },
      hot: { cpu: 0.25, memory: 256 * Mi, storage: 10 * Gi },
    });
    expect(siteCost(input(hot)).whatIf?.hot).toEqual({ cpu: 0.5, memory: 512 * Mi, storage: 20 * Gi });
    expect(siteCost(input(cold)).whatIf?.cold).toEqual({ cpu: 0, memory: 0, storage: 30 * Gi });
    const byJob = spec({ tier: 'warm', warm: { schedule: '0 * * * *', method: 'job', jobTemplate: { spec: { containers: [{ name: 'copy', image: 'copy' }] } } } });
    expect(siteCost(input(byJob)).whatIf?.warm.storage).toBe(10 * Gi);
  });

  test('a Deployment hot standby shares one set of claims; cold by dumps holds one data volume; no primary, no what-if', () => {
    const deploy: V1Deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'db' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'db' } },
        template: { spec: { ...template('1', '1Gi').spec!, volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'db-data' } }] } },
      },
    };
    const s = spec({ tier: 'hot', hot: { replicas: 2 } });
    const i = input(s, { primary: deploy, volumes: primaryVolumes(deploy), primaryClaims: new Map([['db-data', claim('db-data', '4Gi')]]) });
    expect(siteCost(i).whatIf?.hot).toEqual({ cpu: 2, memory: 2 * Gi, storage: 4 * Gi });
    // (method engine needs the postgresql engine; the figure does not depend on which.)
    const snapshots = spec({ tier: 'cold', cold: { schedule: '0 * * * *' } });
    const dumps: SiteSpec = { ...snapshots, cold: { ...snapshots.cold!, method: 'engine' } };
    expect(siteCost({ ...i, spec: dumps }).whatIf?.cold.storage).toBe(4 * Gi);
    expect(siteCost(input(s, { primary: undefined })).whatIf).toBeUndefined();
  });
});

describe('keptSnapshotSets', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  test('keepLast, or the schedules that fit in maxAge, whichever is fewer', () => {
    expect(keptSnapshotSets(spec({ tier: 'cold', cold: { schedule: '0 * * * *', retention: { keepLast: 5 } } }), now)).toBe(5);
    expect(keptSnapshotSets(spec({ tier: 'cold', cold: { schedule: '0 * * * *', retention: { maxAge: '3h' } } }), now)).toBe(4);
    expect(keptSnapshotSets(spec({ tier: 'cold', cold: { schedule: '0 * * * *', retention: { keepLast: 2, maxAge: '3h' } } }), now)).toBe(2);
  });
  test('not cold: the default retention (keepLast 7)', () => {
    expect(keptSnapshotSets(spec({ tier: 'hot' }), now)).toBe(7);
  });
});
