// The in-place growth of a promoted standby (issue #20): the plan per pod (resize patches, what
// the kubelet reports), the choice of method and its fallback to a rolling update, and the note
// that records the choice before the step waits.
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { describe, expect, test } from 'vitest';
import { validateSpec, type StandbySite } from '../../../src/api/site.ts';
import type { PromotionStatus } from '../../../src/api/status.ts';
import type { ObjectActions } from '../../../src/k8s/actions.ts';
import { ApiError } from '../../../src/k8s/client.ts';
import { drive, type PromotionSteps } from '../../../src/promotion/executor.ts';
import { growStandby, inPlacePlan, keepGrown, resizeState, type GrowInput, type PodResizer } from '../../../src/promotion/grow.ts';
import { begin } from '../../../src/promotion/machine.ts';
import type { StepResult } from '../../../src/site/step.ts';

const full = { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '1Gi' } };
const small = { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '256Mi' } };
const sidecar = { requests: { cpu: '100m', memory: '64Mi' } };

const sts = (main: object, name = 'db'): V1StatefulSet => ({
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name, namespace: 'shop', generation: 1 },
  spec: {
    replicas: 1,
    serviceName: name,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'exporter', image: 'e:1', resources: sidecar }, { name: 'main', image: 'db:1', resources: main }] } },
  },
});
const primary = sts(full);
const standby = sts(small, 'db-standby');

function site(): StandbySite {
  const v = validateSpec({ primary: { workload: { kind: 'StatefulSet', name: 'db' }, service: 'db' }, tier: 'hot', standby: { resources: { main: small } } }, 'db');
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return { metadata: { name: 'db', namespace: 'shop', uid: 'u1', generation: 1 }, spec: v.spec, status: {} };
}

/** A standby pod as the operator's cache keeps it: the containers' resources asked and applied, the resize conditions. */
const pod = (asked: object, applied: object | undefined, conditions: { type: string; status: string; reason?: string; message?: string }[] = [], name = 'db-standby-0'): V1Pod => ({
  metadata: { name, uid: `uid-${name}` },
  spec: { containers: [{ name: 'exporter', resources: sidecar }, { name: 'main', resources: asked }] },
  status: {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: 'True' }, ...conditions],
    containerStatuses: [
      { name: 'exporter', ready: true, restartCount: 0, image: 'e:1', imageID: '', resources: sidecar },
      { name: 'main', ready: true, restartCount: 0, image: 'db:1', imageID: '', ...(applied ? { resources: applied } : {}) },
    ],
  },
});

const input = (pods: V1Pod[], promotion?: GrowInput['promotion']): GrowInput => ({ site: site(), primary, standby, standbyPods: pods, promotion });

describe('the in-place plan (pure)', () => {
  test("a pod still asking for the reduced resources is resized: only the named container, by index, the pod's UID tested", () => {
    expect(inPlacePlan(input([pod(small, small)]))).toEqual({
      kind: 'resize',
      pods: [
        {
          name: 'db-standby-0',
          ops: [
            { op: 'test', path: '/metadata/uid', value: 'uid-db-standby-0' },
            { op: 'test', path: '/spec/containers/1/name', value: 'main' },
            { op: 'add', path: '/spec/containers/1/resources', value: full },
          ],
        },
      ],
    });
  });

  test('resized, it waits until the kubelet reports the primary\'s resources; then, Ready, done', () => {
    expect(inPlacePlan(input([pod(full, small)]))).toEqual({ kind: 'wait', why: "pod db-standby-0: the kubelet to report the primary's resources" });
    // A node that reports no container resources at all is waited for too (the deadline ends it).
    expect(inPlacePlan(input([pod(full, undefined)])).kind).toBe('wait');
    expect(inPlacePlan(input([pod(full, { requests: { cpu: '1000m', memory: '1024Mi' }, limits: { memory: '1Gi' } })]))).toEqual({ kind: 'done' });
    // No pod (being recreated): not done.
    expect(inPlacePlan(input([]))).toMatchObject({ kind: 'wait', why: '0 of 1 standby pods Ready' });
  });

  test("the kubelet's resize conditions: Infeasible refuses, Deferred and InProgress wait, saying why", () => {
    const infeasible = { type: 'PodResizePending', status: 'True', reason: 'Infeasible', message: 'Node didn\'t have enough capacity: memory' };
    expect(resizeState(pod(full, small, [infeasible]))).toEqual({ state: 'infeasible', message: "Infeasible: Node didn't have enough capacity: memory" });
    expect(inPlacePlan(input([pod(full, small, [infeasible])]))).toEqual({
      kind: 'infeasible',
      why: "the kubelet refused the in-place resize of pod db-standby-0 (Infeasible: Node didn't have enough capacity: memory)",
    });
    const deferred = { type: 'PodResizePending', status: 'True', reason: 'Deferred', message: 'not now' };
    expect(inPlacePlan(input([pod(full, small, [deferred])]))).toEqual({ kind: 'wait', why: 'pod db-standby-0: resize deferred (Deferred: not now)' });
    const going = { type: 'PodResizeInProgress', status: 'True' };
    expect(inPlacePlan(input([pod(full, small, [going])]))).toEqual({ kind: 'wait', why: 'pod db-standby-0: resize in progress' });
    expect(resizeState(pod(full, small, [{ type: 'PodResizeInProgress', status: 'True', reason: 'Error', message: 'boom' }]))).toEqual({ state: 'error', message: 'Error: boom' });
    expect(resizeState(pod(full, full, [{ type: 'PodResizePending', status: 'False' }]))).toEqual({ state: 'none' });
  });

  test('a pod being deleted is left alone', () => {
    const going = { ...pod(small, small), metadata: { name: 'db-standby-0', uid: 'x', deletionTimestamp: new Date() } };
    expect(inPlacePlan(input([going])).kind).toBe('wait');
  });
});

function actions(calls: unknown[]): ObjectActions {
  const no = () => Promise.reject(new Error('not used'));
  return {
    apply: no,
    replace: no,
    ensure: no,
    patch: no,
    remove: no,
    cached: () => undefined,
    jsonPatch: (kind, ns, name, ops) => (calls.push([kind, ns, name, ops]), Promise.resolve()),
  };
}

function resizer(calls: unknown[], fail?: Error): PodResizer {
  return { resize: (ns, name, ops) => (fail ? Promise.reject(fail) : (calls.push([ns, name, ops]), Promise.resolve())) };
}

describe('the Growing step: in place where offered, else a rolling update', () => {
  test('resize offered: the pods are resized, the template is not touched, InPlace is noted before it waits', async () => {
    const patched: unknown[] = [];
    const resized: unknown[] = [];
    const r = await growStandby(input([pod(small, small)]), actions(patched), resizer(resized));
    expect(patched).toEqual([]);
    expect(resized).toHaveLength(1);
    expect((resized[0] as unknown[]).slice(0, 2)).toEqual(['shop', 'db-standby-0']);
    expect(r).toMatchObject({ done: false, note: { growth: 'InPlace' } });
    expect(String(!r.done && r.note?.growthNote)).toContain('keeps the reduced resources');
    // Recorded: no note again; grown and Ready: done.
    expect(await growStandby(input([pod(full, full)], { growth: 'InPlace' }), actions(patched), resizer(resized))).toEqual({ done: true });
  });

  test('no pods/resize: the template is patched (rolling update), RollingUpdate noted with why', async () => {
    const patched: unknown[] = [];
    const r = await growStandby(input([pod(small, small)]), actions(patched), undefined);
    expect(patched).toHaveLength(1);
    expect((patched[0] as unknown[]).slice(0, 3)).toEqual(['StatefulSet', 'shop', 'db-standby']);
    expect(r).toMatchObject({ done: false, note: { growth: 'RollingUpdate' } });
    expect(String(!r.done && r.note?.growthNote)).toContain('no pods/resize');
  });

  test('the API server refusing the resize (422: a node without resize support) falls back to the rolling update', async () => {
    const patched: unknown[] = [];
    const refusal = new ApiError(422, 'Invalid', 'Pod "db-standby-0" is invalid: spec: Forbidden: Pod running on node without support for resize');
    const r = await growStandby(input([pod(small, small)], { growth: 'InPlace' }), actions(patched), resizer([], refusal));
    expect(patched).toHaveLength(1);
    expect(r).toMatchObject({ done: false, note: { growth: 'RollingUpdate' } });
    expect(String(!r.done && r.note?.growthNote)).toContain('node without support for resize');
    // Once RollingUpdate is recorded, the resizer is never used again.
    const again = await growStandby(input([pod(small, small)], { growth: 'RollingUpdate' }), actions(patched), resizer([], new Error('must not be called')));
    expect(again.done).toBe(false);
    expect(!again.done && again.note).toBeUndefined();
  });

  test('a transient error (a conflict) waits and retries in place; Infeasible from the kubelet falls back', async () => {
    const patched: unknown[] = [];
    const busy = await growStandby(input([pod(small, small)], { growth: 'InPlace' }), actions(patched), resizer([], new ApiError(409, 'Conflict', 'the object has been modified')));
    expect(patched).toEqual([]);
    expect(busy).toMatchObject({ done: false, waitingFor: 'could not resize pod db-standby-0: the object has been modified' });
    expect(String(!busy.done && busy.overrun?.growthFailed)).toContain('promotion.stepTimeout');
    const infeasible = await growStandby(
      input([pod(full, small, [{ type: 'PodResizePending', status: 'True', reason: 'Infeasible', message: 'no room' }])], { growth: 'InPlace' }),
      actions(patched),
      resizer([]),
    );
    expect(patched).toHaveLength(1);
    expect(String(!infeasible.done && infeasible.note?.growthNote)).toContain('Infeasible: no room');
  });

  test('while the grown standby serves, a pod recreated from the reduced template is resized again', async () => {
    const resized: unknown[] = [];
    expect(await keepGrown(input([pod(full, full), pod(small, small, [], 'db-standby-1')]), resizer(resized))).toEqual(['db-standby-1']);
    expect(await keepGrown(input([pod(full, full)]), resizer(resized))).toEqual([]);
    expect(resized).toHaveLength(1);
  });
});

describe('a step that decides something records it before it waits', () => {
  test("the Growing step's note is written with the state unchanged, and kept on the record", async () => {
    const T0 = new Date('2026-12-01T10:00:00Z');
    const done: StepResult = { done: true };
    const writes: PromotionStatus[] = [];
    const steps: PromotionSteps = {
      Fencing: () => Promise.resolve(done),
      Promoting: () => Promise.resolve(done),
      Switching: () => Promise.resolve(done),
      Growing: () => Promise.resolve<StepResult>({ done: false, waitingFor: 'pods', note: { growth: 'InPlace' } }),
    };
    const at = { ...begin(T0, 'automatic', 'x', undefined, { grow: true }), state: 'Growing' as const, stepStartedAt: T0.toISOString() };
    const r = await drive(at, steps, { now: () => T0, stepTimeoutMs: 60_000, write: (p) => (writes.push(p), Promise.resolve(true)) });
    expect(r.record).toMatchObject({ state: 'Growing', growth: 'InPlace' });
    expect(writes).toHaveLength(1);
    // Noted already: nothing more is written.
    await drive(r.record, steps, { now: () => T0, stepTimeoutMs: 60_000, write: (p) => (writes.push(p), Promise.resolve(true)) });
    expect(writes).toHaveLength(1);
  });
});
