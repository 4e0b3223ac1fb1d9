// A standby at reduced capacity (spec.standby.resources, issue #20): the override while it stands
// by, the primary's resources once it serves, and what the growth on promotion decides.
import type { V1Deployment, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { describe, expect, test } from 'vitest';
import { validateSpec, type StandbySite } from '../../../src/api/site.ts';
import type { PromotionStatus, SiteStatus } from '../../../src/api/status.ts';
import type { ReconcileContext } from '../../../src/controller/context.ts';
import { buildContext } from '../../../src/controller/converge.ts';
import type { Observed } from '../../../src/controller/facts.ts';
import { siteCost } from '../../../src/cost/site-cost.ts';
import { genericEngine } from '../../../src/engines/generic.ts';
import type { ObjectActions } from '../../../src/k8s/actions.ts';
import { drive, type PromotionSteps, type StepResult } from '../../../src/promotion/executor.ts';
import { growStandby, growthPlan, sameCapacity } from '../../../src/promotion/grow.ts';
import { lifecycleOf } from '../../../src/promotion/lifecycle.ts';
import { advance, begin, inProgress } from '../../../src/promotion/machine.ts';
import { LABEL_EPOCH } from '../../../src/site/names.ts';
import type { BuildContext } from '../../../src/tiers/context.ts';
import { desiredObjects as buildDesired } from '../../../src/tiers/desired.ts';
import { reducedResources, standsByReduced, unknownContainers, withReducedResources } from '../../../src/tiers/reduced.ts';
import { allValidated } from '../support/models.ts';

/** Every object the builders return, checked against the Kubernetes schema of its kind. */
const desiredObjects = (c: BuildContext) => allValidated(buildDesired(c));

const full = { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '2', memory: '1Gi' } };
const primarySts: V1StatefulSet = {
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'db', namespace: 'shop' },
  spec: {
    replicas: 1,
    serviceName: 'db',
    selector: { matchLabels: { app: 'db' } },
    template: {
      metadata: { labels: { app: 'db' } },
      spec: {
        containers: [
          { name: 'main', image: 'db:1', resources: full },
          { name: 'exporter', image: 'exp:1', resources: { requests: { cpu: '100m', memory: '64Mi' } } },
        ],
      },
    },
  },
};

const small = { requests: { cpu: '250m', memory: '256Mi' } };

function site(spec: Record<string, unknown>): StandbySite {
  const v = validateSpec({ primary: { workload: { kind: 'StatefulSet', name: 'db' }, service: 'db' }, ...spec }, 'db');
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return { metadata: { name: 'db', namespace: 'shop', uid: 'u1', generation: 1 }, spec: v.spec, status: {} };
}

function ctx(s: StandbySite, over: Partial<BuildContext> = {}): BuildContext {
  return {
    site: s,
    primary: primarySts,
    primaryService: { metadata: { name: 'db' }, spec: { selector: { app: 'db' }, ports: [{ port: 5432 }] } },
    volumes: [],
    primaryClaims: new Map(),
    engine: genericEngine,
    operatorImage: 'op:1',
    active: 'primary',
    promotion: undefined,
    copyClaims: undefined,
    ...over,
  };
}

const standbyOf = (objs: ReturnType<typeof desiredObjects>) => objs.find((o) => o.metadata?.name === 'db-standby') as V1StatefulSet | V1Deployment;
const containers = (w: V1StatefulSet | V1Deployment) => Object.fromEntries((w.spec?.template.spec?.containers ?? []).map((c) => [c.name, c.resources]));

describe('the override (pure)', () => {
  test("given requests replace the primary's; the primary's limit stays when it is not below them", () => {
    expect(reducedResources(full, small)).toEqual({ requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '2', memory: '1Gi' } });
  });

  test("a limit given below the primary's request lowers the request to it; a request given above the primary's limit raises the limit", () => {
    expect(reducedResources(full, { limits: { cpu: '500m' } })).toEqual({ requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '500m', memory: '1Gi' } });
    expect(reducedResources({ requests: { cpu: '100m' }, limits: { cpu: '200m' } }, { requests: { cpu: '300m' } })).toEqual({ requests: { cpu: '300m' }, limits: { cpu: '300m' } });
  });

  test('a primary without resources gets just the override; other resources (ephemeral-storage) are kept', () => {
    expect(reducedResources(undefined, { requests: { memory: '128Mi' }, limits: { memory: '256Mi' } })).toEqual({ requests: { memory: '128Mi' }, limits: { memory: '256Mi' } });
    expect(reducedResources({ requests: { 'ephemeral-storage': '1Gi', cpu: '1' } }, { requests: { cpu: '100m' } })).toEqual({ requests: { 'ephemeral-storage': '1Gi', cpu: '100m' } });
  });

  test('only the containers named change; names that match no container are reported', () => {
    const t = withReducedResources(primarySts.spec!.template, { main: small, nope: small });
    expect(t.spec?.containers[0]?.resources).toEqual({ requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '2', memory: '1Gi' } });
    expect(t.spec?.containers[1]?.resources).toEqual(primarySts.spec!.template.spec!.containers[1]!.resources);
    expect(primarySts.spec!.template.spec!.containers[0]!.resources).toBe(full);
    expect(unknownContainers(primarySts.spec!.template, { main: small, nope: small })).toEqual(['nope']);
  });

  test('reduced while it stands by; not once it serves, its promotion grows it, or on the cold tier', () => {
    const spec = site({ tier: 'hot', standby: { resources: { main: small } } }).spec;
    expect(standsByReduced(spec, 'primary', undefined)).toBe(true);
    for (const st of ['Fencing', 'Promoting', 'Switching', 'Failed'] as const) expect(standsByReduced(spec, 'primary', st)).toBe(true);
    // Growing by a rolling update (or a record from before the method was recorded, once Promoted): the primary's.
    expect(standsByReduced(spec, 'primary', 'Growing', 'RollingUpdate')).toBe(false);
    expect(standsByReduced(spec, 'primary', 'Promoted', 'RollingUpdate')).toBe(false);
    expect(standsByReduced(spec, 'primary', 'Promoted')).toBe(false);
    // Grown in place, or Growing before the method is chosen: the template keeps the reduced size (a change would replace the pods).
    expect(standsByReduced(spec, 'primary', 'Growing')).toBe(true);
    expect(standsByReduced(spec, 'primary', 'Growing', 'InPlace')).toBe(true);
    expect(standsByReduced(spec, 'primary', 'Promoted', 'InPlace')).toBe(true);
    // The controller's build context says active standby from Switching on: the promotion decides.
    expect(standsByReduced(spec, 'standby', 'Switching')).toBe(true);
    expect(standsByReduced(spec, 'standby', undefined)).toBe(false);
    expect(standsByReduced({ tier: 'cold', standby: { resources: { main: small } } }, 'primary', undefined)).toBe(false);
    expect(standsByReduced(site({ tier: 'hot' }).spec, 'primary', undefined)).toBe(false);
  });
});

describe('the standby workload (builders)', () => {
  const s = site({ tier: 'hot', hot: { replicas: 2 }, standby: { resources: { main: small } } });

  test('hot: the running standby has the override, the primary keeps its own', () => {
    const w = standbyOf(desiredObjects(ctx(s)));
    expect(containers(w).main).toEqual({ requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '2', memory: '1Gi' } });
    expect(containers(w).exporter).toEqual({ requests: { cpu: '100m', memory: '64Mi' } });
    expect(w.spec?.replicas).toBe(2);
  });

  test("hot: from the Growing step on (and once the standby serves), the primary's resources", () => {
    expect(containers(standbyOf(desiredObjects(ctx(s, { promotion: 'Switching', active: 'standby' })))).main).toEqual({ requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '2', memory: '1Gi' } });
    expect(containers(standbyOf(desiredObjects(ctx(s, { promotion: 'Growing', growth: 'RollingUpdate' })))).main).toEqual(full);
    expect(containers(standbyOf(desiredObjects(ctx(s, { promotion: 'Promoted' })))).main).toEqual(full);
  });

  test('warm: the standby starts with the override (promotion Promoting), at zero replicas before', () => {
    const w = site({ tier: 'warm', warm: { schedule: '*/15 * * * *' }, standby: { resources: { main: small } } });
    const standing = standbyOf(desiredObjects(ctx(w, { copyClaims: {} })));
    expect(standing.spec?.replicas).toBe(0);
    expect(containers(standing).main?.requests).toEqual(small.requests);
    const starting = standbyOf(desiredObjects(ctx(w, { copyClaims: {}, promotion: 'Promoting' })));
    expect(starting.spec?.replicas).toBe(1);
    expect(containers(starting).main?.requests).toEqual(small.requests);
  });

  test("without standby.resources nothing changes: the standby's containers are the primary's", () => {
    expect(containers(standbyOf(desiredObjects(ctx(site({ tier: 'hot' }))))).main).toEqual(full);
  });

  test("status.cost's reserved figures are the standby workload's: reduced while it stands by, the primary's once grown", () => {
    const cost = (standby: V1StatefulSet | V1Deployment) => siteCost({ spec: s.spec, now: new Date(), primary: primarySts, volumes: [], primaryClaims: new Map(), standby, claims: [], snapshots: [] });
    // 2 × (250m + 100m) and 2 × (256Mi + 64Mi) while it stands by; 2 × (1 + 100m) and 2 × (1Gi + 64Mi) grown.
    expect(cost(standbyOf(desiredObjects(ctx(s))))).toMatchObject({ cpu: 0.7, memory: 2 * 320 * 2 ** 20 });
    expect(cost(standbyOf(desiredObjects(ctx(s, { promotion: 'Promoted', active: 'standby' }))))).toMatchObject({ cpu: 2.2, memory: 2 * 1088 * 2 ** 20 });
  });

  test("status.cost's what-if for hot counts the reduced standby", () => {
    const cost = siteCost({ spec: s.spec, now: new Date(), primary: primarySts, volumes: [], primaryClaims: new Map(), standby: undefined, claims: [], snapshots: [] });
    // 2 × (250m + 100m), 2 × (256Mi + 64Mi).
    expect(cost.whatIf?.hot).toMatchObject({ cpu: 0.7, memory: 2 * 320 * 2 ** 20 });
  });
});

describe('the reduced size through the DR cycle (the controller\'s build context)', () => {
  const s = site({ tier: 'hot', standby: { resources: { main: small } } });
  const at = (m: number) => new Date(Date.UTC(2026, 11, 1, 10, m)).toISOString();
  const failover: PromotionStatus = { state: 'Promoted', to: 'standby', startedAt: at(0), grow: true, grownAt: at(2) };
  const failback = (state: PromotionStatus['state']): PromotionStatus => ({ state, to: 'primary', startedAt: at(10), epoch: 1 });
  const reprotection = (of: 'primary' | 'standby', m: number) => ({ of, state: 'Protected' as const, startedAt: at(m) });
  // The standby workload the controller would build for a site whose status is this.
  const built = (status: SiteStatus) => {
    const rc = { site: s, deps: { operatorImage: 'op:1' }, current: { ...s, status } } as unknown as ReconcileContext;
    const obs = { primary: primarySts, primaryService: undefined, volumes: [], primaryClaims: new Map(), serviceLabelKeys: new Set<string>() } as unknown as Observed;
    const c = buildContext(rc, obs, genericEngine, lifecycleOf(status), status.active ?? 'primary', undefined);
    return standbyOf(desiredObjects(c!));
  };

  test("the standby serves at the primary's size after its failover and while the old primary is re-protected and failed back to", () => {
    expect(containers(built({ active: 'standby', promotion: failover })).main).toEqual(full);
    expect(containers(built({ active: 'standby', promotion: failover, reprotection: reprotection('primary', 5) })).main).toEqual(full);
    // A failback promotes the primary (the user's own workload, at its own size): no growth; the
    // standby serves at the primary's size until the failback's switch.
    expect(containers(built({ active: 'standby', promotion: failover, reprotection: reprotection('primary', 5), failback: failback('Switching') })).main).toEqual(full);
    // A failback that failed leaves the standby serving, at the primary's size.
    expect(containers(built({ active: 'standby', promotion: failover, failback: failback('Failed') })).main).toEqual(full);
  });

  test('once failed back it stands by again, reduced, with the epoch label (one restart of its pods, not two), and stays so once re-protected', () => {
    // Until its re-protection kept what it held, nothing restarts its pods: the size it served at, no new epoch.
    const unkept = built({ active: 'primary', epoch: 1, promotion: failover, failback: failback('Promoted') });
    expect(containers(unkept).main).toEqual(full);
    expect(unkept.spec?.template.metadata?.labels?.[LABEL_EPOCH]).toBeUndefined();
    const kept = { of: 'standby' as const, state: 'Seeding' as const, startedAt: at(12), divergence: { snapshotRun: 'divergent-x', description: 'kept' } };
    const returning = built({ active: 'primary', epoch: 1, promotion: failover, failback: failback('Promoted'), reprotection: kept });
    expect(containers(returning).main).toEqual({ requests: small.requests, limits: full.limits });
    expect(returning.spec?.template.metadata?.labels?.[LABEL_EPOCH]).toBe('1');
    const forward = built({ active: 'primary', epoch: 1, promotion: failover, failback: failback('Promoted'), reprotection: reprotection('standby', 20) });
    expect(containers(forward).main).toEqual({ requests: small.requests, limits: full.limits });
  });
});

// As the operator's cache keeps pods: labels and readiness, no spec.
const pod = (name: string, revision: string, ready = true): V1Pod => ({
  metadata: { name, labels: { 'controller-revision-hash': revision } },
  status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], phase: 'Running' },
});

describe('growth on promotion (the Growing step)', () => {
  const s = site({ tier: 'hot', standby: { resources: { main: small } } });
  const reducedStandby = standbyOf(desiredObjects(ctx(s)));
  const seen = (w: V1StatefulSet | V1Deployment, generation: number, observed: number, updateRevision: string) =>
    ({ ...w, metadata: { ...w.metadata, generation }, status: { observedGeneration: observed, updateRevision, replicas: 1 } }) as V1StatefulSet;
  const grownStandby = seen(standbyOf(desiredObjects(ctx(s, { promotion: 'Growing', growth: 'RollingUpdate' }))), 2, 2, 'rev-2');
  const reducedPod = pod('db-standby-0', 'rev-1');
  const grownPod = pod('db-standby-0', 'rev-2');

  test('quantities are compared as such, a missing request as its limit', () => {
    expect(sameCapacity({ requests: { cpu: '1000m', memory: '1024Mi' } }, { requests: { cpu: '1', memory: '1Gi' } })).toBe(true);
    expect(sameCapacity({ limits: { cpu: '1' } }, { requests: { cpu: '1' }, limits: { cpu: '1' } })).toBe(true);
    expect(sameCapacity({ requests: { cpu: '250m' } }, { requests: { cpu: '1' } })).toBe(false);
  });

  test("a template still reduced is patched to the primary's resources (by index, tested by name)", () => {
    const plan = growthPlan({ site: s, primary: primarySts, standby: reducedStandby, standbyPods: [reducedPod] });
    expect(plan).toEqual({
      kind: 'patch',
      containers: ['main'],
      ops: [
        { op: 'test', path: '/spec/template/spec/containers/0/name', value: 'main' },
        { op: 'add', path: '/spec/template/spec/containers/0/resources', value: full },
      ],
    });
  });

  test('a grown template waits for its pods to be replaced, then for them to be Ready', () => {
    const why = (p: ReturnType<typeof growthPlan>) => (p.kind === 'wait' ? p.why : `not waiting: ${p.kind}`);
    expect(why(growthPlan({ site: s, primary: primarySts, standby: { ...grownStandby, status: { replicas: 1, observedGeneration: 1 } }, standbyPods: [reducedPod] }))).toContain('controller to see');
    expect(why(growthPlan({ site: s, primary: primarySts, standby: grownStandby, standbyPods: [reducedPod] }))).toContain('db-standby-0 still have the reduced resources');
    expect(why(growthPlan({ site: s, primary: primarySts, standby: grownStandby, standbyPods: [] }))).toContain('0 of 1');
    expect(growthPlan({ site: s, primary: primarySts, standby: grownStandby, standbyPods: [pod('db-standby-0', 'rev-2', false)] })).toMatchObject({ kind: 'wait' });
    expect(growthPlan({ site: s, primary: primarySts, standby: grownStandby, standbyPods: [grownPod] })).toEqual({ kind: 'done' });
  });

  test('a Deployment standby is grown once all its replicas are updated and no old pod is left', () => {
    const dep = (updated: number): V1Deployment => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'db-standby', generation: 3 },
      spec: { replicas: 1, selector: {}, template: grownStandby.spec!.template },
      status: { observedGeneration: 3, updatedReplicas: updated },
    });
    expect(growthPlan({ site: s, primary: primarySts, standby: dep(0), standbyPods: [pod('a', 'x')] }).kind).toBe('wait');
    expect(growthPlan({ site: s, primary: primarySts, standby: dep(1), standbyPods: [pod('a', 'x'), pod('b', 'y')] }).kind).toBe('wait');
    expect(growthPlan({ site: s, primary: primarySts, standby: dep(1), standbyPods: [pod('b', 'y')] })).toEqual({ kind: 'done' });
  });

  test('without the primary workload its resources are unknown: growth is given up at once, the step still ends', async () => {
    expect(growthPlan({ site: s, primary: undefined, standby: reducedStandby, standbyPods: [reducedPod] })).toMatchObject({ kind: 'giveUp' });
    const r = await growStandby({ site: s, primary: undefined, standby: reducedStandby, standbyPods: [] }, actions([]), undefined);
    expect(r.done).toBe(true);
    expect(String(r.done && r.note?.growthFailed)).toContain('primary workload is gone');
  });

  test('the step patches through the actions; a patch that fails waits, with what to record if the deadline passes', async () => {
    const calls: unknown[] = [];
    const r = await growStandby({ site: s, primary: primarySts, standby: reducedStandby, standbyPods: [reducedPod] }, actions(calls), undefined);
    expect(calls).toHaveLength(1);
    expect((calls[0] as unknown[]).slice(0, 3)).toEqual(['StatefulSet', 'shop', 'db-standby']);
    expect(r.done).toBe(false);
    expect(String(!r.done && r.overrun?.growthFailed)).toContain('promotion.stepTimeout');
    const bad = await growStandby({ site: s, primary: primarySts, standby: reducedStandby, standbyPods: [] }, actions(calls, new Error('422 the test failed')), undefined);
    expect(bad.done).toBe(false);
    expect(!bad.done && bad.waitingFor).toContain('422 the test failed');
    expect(String(!bad.done && bad.overrun?.growthFailed)).toContain('422');
  });
});

function actions(calls: unknown[], fail?: Error): ObjectActions {
  const no = () => Promise.reject(new Error('not used'));
  return {
    apply: no,
    replace: no,
    ensure: no,
    patch: no,
    remove: no,
    cached: () => undefined,
    jsonPatch: (kind, ns, name, ops) => {
      if (fail) return Promise.reject(fail);
      calls.push([kind, ns, name, ops]);
      return Promise.resolve();
    },
  };
}

describe('the promotion records the Growing step', () => {
  const T0 = new Date('2026-12-01T10:00:00Z');
  const done: StepResult = { done: true };
  const steps = (growing: () => Promise<StepResult>): PromotionSteps => ({
    Fencing: () => Promise.resolve(done),
    Promoting: () => Promise.resolve(done),
    Switching: () => Promise.resolve(done),
    Growing: growing,
  });

  test('only a promotion that began with a reduced standby has it, after Switching, stamped grownAt', () => {
    const plain = begin(T0, 'automatic', 'x', undefined);
    expect(advance({ ...plain, state: 'Switching' }, T0).state).toBe('Promoted');
    const grow = begin(T0, 'automatic', 'x', undefined, { grow: true });
    const g = advance({ ...grow, state: 'Switching' }, T0);
    expect(g).toMatchObject({ state: 'Growing', switchedAt: T0.toISOString() });
    expect(inProgress(g)).toBe(true);
    expect(advance(g, T0)).toMatchObject({ state: 'Promoted', grownAt: T0.toISOString() });
    // A failback (to the primary) never grows.
    expect(advance({ ...begin(T0, 'manual', 'x', 't', { grow: true }, 'primary'), state: 'Switching' }, T0).state).toBe('Promoted');
  });

  test('growing that waits keeps the promotion at Growing before its deadline', async () => {
    const writes: PromotionStatus[] = [];
    const waitingStep = () => Promise.resolve<StepResult>({ done: false, waitingFor: 'pods', overrun: { growthFailed: 'too slow' } });
    const r = await drive(begin(T0, 'automatic', 'x', undefined, { grow: true }), steps(waitingStep), { now: () => T0, stepTimeoutMs: 60_000, write: (p) => (writes.push(p), Promise.resolve(true)) });
    expect(r.record.state).toBe('Growing');
    expect(r.waitingFor).toBe('pods');
  });

  test('past its deadline, growing never fails the promotion: it ends Promoted with growthFailed recorded', async () => {
    const writes: PromotionStatus[] = [];
    const at = { ...begin(T0, 'automatic', 'x', undefined, { grow: true }), state: 'Growing' as const, stepStartedAt: T0.toISOString() };
    const later = new Date(T0.getTime() + 61_000);
    const waitingStep = () => Promise.resolve<StepResult>({ done: false, waitingFor: 'pods', overrun: { growthFailed: 'too slow' } });
    const r = await drive(at, steps(waitingStep), { now: () => later, stepTimeoutMs: 60_000, write: (p) => (writes.push(p), Promise.resolve(true)) });
    expect(r.record).toMatchObject({ state: 'Promoted', growthFailed: 'too slow', grownAt: later.toISOString() });
    expect(r.record.message).toContain('at reduced capacity: too slow');
    expect(writes.map((w) => w.state)).toEqual(['Promoted']);
  });

  test('a step without overrun still fails the promotion past its deadline (switching is not optional)', async () => {
    const at = { ...begin(T0, 'automatic', 'x', undefined, { grow: true }), state: 'Switching' as const, stepStartedAt: T0.toISOString() };
    const r = await drive(at, { ...steps(() => Promise.resolve(done)), Switching: () => Promise.resolve<StepResult>({ done: false, waitingFor: 'svc' }) }, {
      now: () => new Date(T0.getTime() + 61_000),
      stepTimeoutMs: 60_000,
      write: () => Promise.resolve(true),
    });
    expect(r.record.state).toBe('Failed');
  });
});
