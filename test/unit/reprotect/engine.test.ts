// Hot re-protection and failback by the engine's hooks (PostgreSQL): the pure plans, and the
// steps carrying them out against fake actions and a fake engine (no cluster, no server).
/* eslint-disable @typescript-eslint/no-unsafe-assignment -- vitest's asymmetric matchers (expect.stringMatching) are typed any */
import type { V1Job, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { describe, expect, test } from 'vitest';
import { validateSpec, type StandbySite } from '../../../src/api/site.ts';
import type { PromotionStatus, ReprotectionStatus } from '../../../src/api/status.ts';
import { reprotectUnsupported } from '../../../src/controller/reprotect.ts';
import type { CaughtUp, Divergence, Engine, ReprotectReport, WriteSwitch } from '../../../src/engines/engine.ts';
import { genericEngine } from '../../../src/engines/generic.ts';
import { postgresqlEngine } from '../../../src/engines/postgresql/engine.ts';
import { failbackJobOf, failbackSteps } from '../../../src/failback/steps.ts';
import { narrowedPrimaryFence } from '../../../src/fencing/network-policy.ts';
import type { ObjectActions } from '../../../src/k8s/actions.ts';
import type { KubeObject } from '../../../src/k8s/types.ts';
import {
  byEngine,
  catchUpVerdict,
  divergenceRecord,
  followVerdict,
  planSeed,
  reportNote,
  writesStoppedVerdict,
  type Held,
  type HoldIO,
  type LifecycleIO,
  type SeedInput,
} from '../../../src/reprotect/engine.ts';
import type { SidesInput } from '../../../src/reprotect/sides.ts';
import { reprotectSteps } from '../../../src/reprotect/steps.ts';
import { promotionId } from '../../../src/promotion/machine.ts';
import { names } from '../../../src/site/names.ts';
import type { VolumeSnapshot } from '../../../src/snapshot/types.ts';

const T0 = new Date('2026-12-01T10:00:00Z');

function site(spec: Record<string, unknown>): StandbySite {
  const v = validateSpec({ primary: { workload: { kind: 'StatefulSet', name: 'db' }, service: 'db' }, traffic: { service: 'db-active' }, ...spec }, 'db');
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return { metadata: { name: 'db', namespace: 'ns', uid: 'uid-1', generation: 1 }, spec: v.spec, status: {} };
}

const pgSite = site({ tier: 'hot', engine: { type: 'postgresql', postgresql: { replicationSecret: 'db-repl', superuserSecret: 'db-super' } } });

const primary: V1StatefulSet = {
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'db', namespace: 'ns' },
  spec: {
    replicas: 1,
    serviceName: 'db',
    selector: { matchLabels: { app: 'db' } },
    template: {
      metadata: { labels: { app: 'db' } },
      spec: { containers: [{ name: 'postgres', image: 'postgres:17', volumeMounts: [{ name: 'data', mountPath: '/var/lib/postgresql/data' }] }] },
    },
    volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
  },
};

const readyPod = (name: string, labels: Record<string, string> = {}): V1Pod => ({
  metadata: { name, labels },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
});

function sides(over: Partial<SidesInput> = {}): SidesInput {
  return {
    site: pgSite,
    status: { active: 'standby' },
    engine: postgresqlEngine,
    operatorImage: 'op:1',
    now: T0,
    primary,
    primaryPods: [],
    primaryService: { metadata: { name: 'db' }, spec: { selector: { app: 'db' } } },
    trafficService: { metadata: { name: 'db-active' }, spec: { selector: { app: 'db' } } },
    primaryClaims: new Map(),
    standby: undefined,
    standbyPods: [],
    snapshots: [],
    jobs: [],
    cronJobs: [],
    runs: [],
    snapshotsInstalled: true,
    ...over,
  };
}

/** Records what the steps do; `ensure` returns what `live` says is there. */
class FakeActions implements ObjectActions {
  readonly calls: string[] = [];
  readonly ensured: KubeObject[] = [];
  private readonly live: (o: KubeObject) => KubeObject;
  constructor(live: (o: KubeObject) => KubeObject = (o) => o) {
    this.live = live;
  }
  apply(obj: KubeObject): Promise<void> {
    this.calls.push(`apply ${obj.kind}/${obj.metadata?.name}`);
    return Promise.resolve();
  }
  replace(obj: KubeObject): Promise<void> {
    this.calls.push(`replace ${obj.kind}/${obj.metadata?.name}`);
    return Promise.resolve();
  }
  ensure<T extends KubeObject>(obj: T): Promise<T> {
    this.calls.push(`ensure ${obj.kind}/${obj.metadata?.name}`);
    this.ensured.push(obj);
    return Promise.resolve(this.live(obj) as T);
  }
  patch(kind: string, _ns: string, name: string, body: unknown): Promise<void> {
    this.calls.push(`patch ${kind}/${name} ${JSON.stringify(body)}`);
    return Promise.resolve();
  }
  jsonPatch(kind: string, _ns: string, name: string): Promise<void> {
    this.calls.push(`jsonPatch ${kind}/${name}`);
    return Promise.resolve();
  }
  remove(kind: string, _ns: string, name: string): Promise<void> {
    this.calls.push(`remove ${kind}/${name}`);
    return Promise.resolve();
  }
  cached<T extends KubeObject>(): T | undefined {
    return undefined;
  }
}

class FakeHold implements HoldIO {
  held: Held | undefined;
  cleared = 0;
  set(h: Held): Promise<boolean> {
    this.held = h;
    return Promise.resolve(true);
  }
  clear(): Promise<boolean> {
    this.cleared++;
    return Promise.resolve(true);
  }
}

const io = (messages: string[] = []): LifecycleIO => ({
  engine: { secret: () => Promise.resolve(undefined), endpoints: () => Promise.resolve([]) },
  jobMessages: () => Promise.resolve(messages),
});

const seed = (over: Partial<SeedInput> = {}): SeedInput => ({
  now: T0,
  replicas: 1,
  desired: 1,
  promotedFrom: undefined,
  pods: 1,
  held: undefined,
  job: undefined,
  jobName: 'db-reprotect-x',
  ...over,
});
const held: Held = { replicas: 1, since: T0.toISOString(), for: 're-protection' };
const job = (o: { succeeded?: boolean; failed?: boolean; message?: string }) => ({
  name: 'db-reprotect-x',
  labels: {},
  started: T0,
  finished: undefined,
  succeeded: o.succeeded ?? false,
  failed: o.failed ?? false,
  message: o.message ?? '',
});

describe('which sites re-protect by the engine', () => {
  test('hot PostgreSQL does; the generic engine and other tiers keep their own paths', () => {
    expect(byEngine({ site: pgSite, engine: postgresqlEngine })).toBe(true);
    expect(byEngine({ site: site({ tier: 'hot', engine: { type: 'generic' } }), engine: genericEngine })).toBe(false);
    expect(byEngine({ site: site({ tier: 'warm', warm: { schedule: '@hourly' }, engine: { type: 'postgresql', postgresql: { replicationSecret: 'r', superuserSecret: 's' } } }), engine: postgresqlEngine })).toBe(false);
  });

  test('hot PostgreSQL is supported where a copy of the old primary can be kept first', () => {
    expect(reprotectUnsupported(sides())).toBeUndefined();
    expect(reprotectUnsupported(sides({ snapshotsInstalled: false }))).toMatch(/keeps a VolumeSnapshot of the old primary's volumes before the postgresql engine rewinds them/);
    const generic = site({ tier: 'hot', engine: { type: 'generic' } });
    expect(reprotectUnsupported(sides({ site: generic, engine: genericEngine }))).toMatch(/set engine.generic.reprotectJobTemplate/);
  });

  test('hot PostgreSQL with the primary in another cluster is refused: its volumes are there, where the operator runs no Jobs', () => {
    const remote = site({
      tier: 'hot',
      primary: { workload: { kind: 'StatefulSet', name: 'db' }, service: 'db', cluster: { kubeconfigSecret: { name: 'primary-cluster' } } },
      engine: { type: 'postgresql', postgresql: { replicationSecret: 'db-repl', superuserSecret: 'db-super', primaryEndpoint: { host: 'pg.example.com', caSecret: { name: 'ca' } } } },
    });
    expect(reprotectUnsupported(sides({ site: remote }))).toMatch(/re-protection of a PostgreSQL primary in another cluster is not supported yet/);
  });
});

describe('planSeed: the old primary stopped, the Job, the replicas given back', () => {
  test('in order: hold (recording the replicas), stop, wait for the pods, the Job, release', () => {
    expect(planSeed(seed())).toEqual({ do: 'hold', held: { replicas: 1, since: T0.toISOString(), for: expect.stringContaining('db-reprotect-x') } });
    expect(planSeed(seed({ held }))).toEqual({ do: 'stop' });
    expect(planSeed(seed({ held, replicas: 0 }))).toEqual({ do: 'wait', for: expect.stringMatching(/^1 pod\(s\) of the old primary to stop/) });
    expect(planSeed(seed({ held, replicas: 0, pods: 0 }))).toEqual({ do: 'job' });
    expect(planSeed(seed({ held, replicas: 0, pods: 0, job: job({}) }))).toEqual({ do: 'wait', for: 'Job db-reprotect-x to complete' });
    expect(planSeed(seed({ held, replicas: 0, pods: 0, job: job({ succeeded: true }) }))).toEqual({ do: 'release', replicas: 1 });
    // Released (hold cleared) and resumed: nothing more to do.
    expect(planSeed(seed({ replicas: 1, pods: 1, job: job({ succeeded: true }) }))).toEqual({ do: 'done' });
  });

  test('an owner who scaled to 0 (fencing scaleDown) gets the replicas the promotion found', () => {
    expect(planSeed(seed({ replicas: 0, desired: 0, promotedFrom: 3 }))).toMatchObject({ do: 'hold', held: { replicas: 3 } });
    expect(planSeed(seed({ replicas: 0, desired: 0 }))).toMatchObject({ do: 'hold', held: { replicas: 1 } });
  });

  test('scaled back up while the Job runs (GitOps self-heal): stopped again before anything waits for the Job', () => {
    expect(planSeed(seed({ held, replicas: 1, pods: 0, job: job({}) }))).toEqual({ do: 'stop' });
    expect(planSeed(seed({ held, replicas: 0, pods: 1, job: job({}) }))).toEqual({
      do: 'wait',
      for: '1 pod(s) of the old primary to stop again (it was scaled back up while Job db-reprotect-x runs)',
    });
  });

  test('a failed Job fails the step and leaves the old primary stopped', () => {
    const p = planSeed(seed({ held, replicas: 0, pods: 0, job: job({ failed: true, message: 'BackoffLimitExceeded: Job has reached the specified backoff limit' }) }));
    expect(p).toEqual({ do: 'fail', message: expect.stringMatching(/^the re-protect Job db-reprotect-x failed: BackoffLimitExceeded.*stays stopped/) });
  });
});

describe('what is recorded', () => {
  test('the divergence: the kept copy and the engine measure', () => {
    const d: Divergence = { from: '0/3000060', to: '0/3012345', bytes: 74469, timeline: 1, rewindable: true, message: 'the old primary holds 72.7 KiB of WAL' };
    expect(divergenceRecord({ snapshotRun: 'divergent-1', description: 'kept in VolumeSnapshot(s) a' }, d)).toEqual({
      snapshotRun: 'divergent-1',
      from: '0/3000060',
      to: '0/3012345',
      bytes: 74469,
      rewindable: true,
      description: 'kept in VolumeSnapshot(s) a; the old primary holds 72.7 KiB of WAL',
    });
    // Unmeasured: the reason is kept, nothing invented.
    expect(divergenceRecord({}, { message: 'the divergence cannot be measured: no server' })).toEqual({ description: 'the divergence cannot be measured: no server' });
  });

  test("the Job's report: method, bytes, message; the divergence filled in where the read could not measure it", () => {
    const r: ReprotectionStatus = { state: 'Seeding', of: 'primary', divergence: { snapshotRun: 'divergent-1', description: 'cannot be measured' } };
    const report: ReprotectReport = {
      method: 'rewind',
      bytes: 2_400_000,
      message: 'rewound with pg_rewind: 2.3 MiB copied in 1s',
      divergence: { from: '0/3000060', to: '0/3012345', bytes: 74469, commits: 12, rewindable: true, message: '...' },
    };
    expect(reportNote(r, report)).toEqual({
      method: 'rewind',
      bytes: 2_400_000,
      report: 'rewound with pg_rewind: 2.3 MiB copied in 1s',
      divergence: { snapshotRun: 'divergent-1', description: 'cannot be measured', from: '0/3000060', to: '0/3012345', bytes: 74469, commits: 12, rewindable: true },
    });
    // What the read measured before stays as it was read.
    const measured: ReprotectionStatus = { ...r, divergence: { ...r.divergence, from: '0/2000000', bytes: 10 } };
    expect(reportNote(measured, report).divergence).toMatchObject({ from: '0/2000000', bytes: 10, commits: 12 });
    expect(reportNote(r, undefined)).toEqual({ method: 'job', report: expect.stringContaining('left no report') });
  });
});

describe('verdicts', () => {
  const behind: CaughtUp = { caughtUp: false, servingLsn: '0/5000100', replayLsn: '0/5000000', message: '10.0.0.1:5432 has replayed up to 0/5000000, 256 bytes short' };
  const caught: CaughtUp = { caughtUp: true, servingLsn: '0/5000100', replayLsn: '0/5000100', message: 'has replayed up to 0/5000100, everything' };

  test('catching up: proven, waived by force (saying what was not proven), or waiting with the reason', () => {
    expect(catchUpVerdict(caught, false)).toEqual({ done: true, note: { caughtUp: { servingLsn: '0/5000100', replayLsn: '0/5000100', message: caught.message } } });
    expect(catchUpVerdict(behind, true)).toEqual({ done: true, note: { caughtUp: { servingLsn: '0/5000100', replayLsn: '0/5000000', message: `not proven, waived (force): ${behind.message}` } } });
    expect(catchUpVerdict(behind, false)).toEqual({ done: false, waitingFor: `the primary to catch up with the fenced standby: ${behind.message}` });
  });

  test('following: Ready and streaming', () => {
    expect(followVerdict(false, undefined, undefined, 'the old primary')).toMatchObject({ done: false, waitingFor: expect.stringMatching(/Ready pod/) });
    expect(followVerdict(true, false, 'slot inactive', 'the old primary')).toEqual({ done: false, waitingFor: 'the old primary to stream from the side that serves (slot inactive)' });
    expect(followVerdict(true, true, undefined, 'the old primary')).toEqual({ done: true });
  });

  test('writes stopped, or waiting', () => {
    expect(writesStoppedVerdict(true, 'ok')).toEqual({ done: true });
    expect(writesStoppedVerdict(false, 'connection refused')).toEqual({ done: false, waitingFor: 'writes to stop on the serving standby: connection refused' });
  });
});

/** A PostgreSQL engine whose server-side reads are scripted. */
function fakeEngine(o: { caughtUp?: CaughtUp; writable?: WriteSwitch[]; divergence?: Divergence; streaming?: boolean }): Engine & { writes: boolean[] } {
  const writes: boolean[] = [];
  return {
    ...postgresqlEngine,
    writes,
    observe: () => Promise.resolve({ streaming: o.streaming ?? true }),
    divergence: () => Promise.resolve(o.divergence ?? { message: 'unmeasured' }),
    caughtUp: () => Promise.resolve(o.caughtUp ?? { caughtUp: false, message: 'unknown' }),
    setWritable: (_c, _io, w) => {
      writes.push(w);
      return Promise.resolve(o.writable?.shift() ?? { ok: true, message: 'ok' });
    },
  };
}

describe('the steps by the engine', () => {
  const r: ReprotectionStatus = { state: 'Seeding', of: 'primary', startedAt: T0.toISOString() };

  test('Seeding stops the old primary before the Job and gives its replicas back after, then records the report', async () => {
    const hold = new FakeHold();
    const act = new FakeActions();
    const engine = fakeEngine({});
    // 1: the replicas recorded, nothing stopped yet.
    let out = await reprotectSteps(sides({ engine, primaryPods: [readyPod('db-0')] }), r, act, { io: io(), hold }).Seeding();
    expect(out.done).toBe(false);
    expect(hold.held?.replicas).toBe(1);
    expect(act.calls).toEqual([]);
    // 2: scaled to 0.
    const status = { active: 'standby' as const, primaryHeld: hold.held! };
    out = await reprotectSteps(sides({ engine, status, primaryPods: [readyPod('db-0')] }), r, act, { io: io(), hold }).Seeding();
    expect(out).toEqual({ done: false, waitingFor: 'the old primary to stop' });
    expect(act.calls).toEqual(['patch StatefulSet/db {"spec":{"replicas":0}}']);
    // 3: stopped: the engine's Job, on the old primary's claim.
    const stopped = { ...primary, spec: { ...primary.spec!, replicas: 0 } };
    out = await reprotectSteps(sides({ engine, status, primary: stopped }), r, act, { io: io(), hold }).Seeding();
    expect(out).toEqual({ done: false, waitingFor: expect.stringMatching(/^Job db-reprotect-/) });
    const created = act.ensured[0] as V1Job;
    expect(created.metadata?.labels?.['standby.dev/role']).toBe('reprotect');
    expect(created.spec?.template.spec?.volumes).toEqual([{ name: 'data', persistentVolumeClaim: { claimName: 'data-db-0' } }]);
    // 4: the Job succeeded: replicas back, the hold cleared, the report recorded.
    const done: V1Job = { ...created, status: { conditions: [{ type: 'Complete', status: 'True' }] } };
    const report = 'standby-operator report: {"method":"rewind","reason":null,"bytes":3145728,"forkLsn":"0/3000060","forkTimeline":1,"endLsn":"0/3012345","divergentBytes":74469,"divergentCommits":7,"checksums":false,"walLogHints":true,"seconds":2}';
    out = await reprotectSteps(sides({ engine, status, primary: stopped, jobs: [done] }), r, act, { io: io([report]), hold }).Seeding();
    expect(act.calls.at(-1)).toBe('patch StatefulSet/db {"spec":{"replicas":1}}');
    expect(hold.cleared).toBe(1);
    expect(out).toMatchObject({ done: true, note: { method: 'rewind', bytes: 3145728, report: expect.stringMatching(/^rewound with pg_rewind: 3\.0 MiB copied in 2s/), divergence: { commits: 7, bytes: 74469 } } });
  });

  test('Preserving keeps the snapshot first, then reads the divergence', async () => {
    const engine = fakeEngine({ divergence: { from: '0/3000060', bytes: 100, rewindable: true, message: 'holds 100 bytes of WAL' } });
    const act = new FakeActions();
    const p: ReprotectionStatus = { state: 'Preserving', of: 'primary', startedAt: T0.toISOString() };
    // The snapshot is not ready: waiting, nothing read or recorded.
    const waitingOut = await reprotectSteps(sides({ engine }), p, act, { io: io(), hold: new FakeHold() }).Preserving();
    expect(waitingOut.done).toBe(false);
    expect(act.calls).toEqual([expect.stringMatching(/^ensure VolumeSnapshot\//)]);
    const snap = act.ensured[0] as VolumeSnapshot;
    const ready = { ...snap, status: { readyToUse: true, creationTime: T0.toISOString() } };
    const out = await reprotectSteps(sides({ engine, snapshots: [ready] }), p, act, { io: io(), hold: new FakeHold() }).Preserving();
    expect(out).toMatchObject({ done: true, note: { divergence: { snapshotRun: expect.stringMatching(/^divergent-/), from: '0/3000060', bytes: 100, rewindable: true, description: expect.stringMatching(/kept in VolumeSnapshot.*; holds 100 bytes of WAL$/) } } });
  });

  test('failback: Fencing stops writes inside the server; CatchingUp waits for the proof; Promoting runs the engine Job', async () => {
    const standby: V1StatefulSet = { ...primary, metadata: { name: 'db-standby', namespace: 'ns' }, spec: { ...primary.spec!, selector: { matchLabels: { 'standby.dev/site': 'db', 'standby.dev/role': 'standby' } } } };
    const f: PromotionStatus = { state: 'Fencing', to: 'primary', startedAt: T0.toISOString() };
    const hold = new FakeHold();
    const refused = fakeEngine({ writable: [{ ok: false, message: 'connection refused' }] });
    const act = new FakeActions();
    let out = await failbackSteps(sides({ engine: refused, standby }), f, false, act, hold, io()).Fencing();
    expect(act.calls).toEqual(['apply NetworkPolicy/db-standby-fence']);
    expect(refused.writes).toEqual([false]);
    expect(out).toEqual({ done: false, waitingFor: 'writes to stop on the serving standby: connection refused' });
    out = await failbackSteps(sides({ engine: refused, standby }), f, false, act, hold, io()).Fencing();
    expect(out).toEqual({ done: true });
    // Forced (or the serving standby failed and cannot answer): the network fence alone.
    const dead = fakeEngine({ writable: [{ ok: false, message: 'connection refused' }] });
    expect(await failbackSteps(sides({ engine: dead, standby }), f, true, act, hold, io()).Fencing()).toEqual({ done: true });

    const behind = fakeEngine({ caughtUp: { caughtUp: false, servingLsn: '0/2', replayLsn: '0/1', message: 'short' } });
    out = await failbackSteps(sides({ engine: behind, standby }), f, false, act, hold, io()).CatchingUp();
    expect(out).toEqual({ done: false, waitingFor: 'the primary to catch up with the fenced standby: short' });
    out = await failbackSteps(sides({ engine: behind, standby }), f, true, act, hold, io()).CatchingUp();
    expect(out).toMatchObject({ done: true, note: { caughtUp: { message: 'not proven, waived (force): short' } } });

    const promote = new FakeActions();
    out = await failbackSteps(sides({ engine: behind, standby }), f, false, promote, hold, io()).Promoting();
    expect(out).toEqual({ done: false, waitingFor: expect.stringMatching(/^Job db-failback-.* to promote the primary$/) });
    expect((promote.ensured[0] as V1Job).spec?.template.metadata?.labels?.['standby.dev/role']).toBe('failback');
    const ok = new FakeActions((o) => ({ ...o, status: { conditions: [{ type: 'Complete', status: 'True' }] } }) as KubeObject);
    out = await failbackSteps(sides({ engine: behind, standby }), f, false, ok, hold, io()).Promoting();
    expect(out).toEqual({ done: false, waitingFor: 'the promoted primary to have a Ready pod' });
    out = await failbackSteps(sides({ engine: behind, standby, primaryPods: [readyPod('db-0')] }), f, false, ok, hold, io()).Promoting();
    expect(out).toEqual({ done: true });
  });

  test('failback: CatchingUp resumed after its Promoting record was lost finds the promote Job and asks nothing (the primary is out of recovery)', async () => {
    const standby: V1StatefulSet = { ...primary, metadata: { name: 'db-standby', namespace: 'ns' }, spec: { ...primary.spec!, selector: { matchLabels: { 'standby.dev/site': 'db', 'standby.dev/role': 'standby' } } } };
    const f: PromotionStatus = { state: 'CatchingUp', to: 'primary', startedAt: T0.toISOString() };
    const promoted = fakeEngine({ caughtUp: { caughtUp: false, message: 'the server at db-0 is not in recovery' } });
    const hold = new FakeHold();
    const before = await failbackSteps(sides({ engine: promoted, standby }), f, false, new FakeActions(), hold, io()).CatchingUp();
    expect(before.done).toBe(false);
    const name = names.failbackJob('db', promotionId(f));
    const jobs = [{ metadata: { name, namespace: 'ns' } } as V1Job];
    expect(failbackJobOf(sides({ engine: promoted, standby, jobs }), f)).toBe(name);
    expect(await failbackSteps(sides({ engine: promoted, standby, jobs }), f, false, new FakeActions(), hold, io()).CatchingUp()).toEqual({ done: true });
  });

  test('Following by the engine: Ready is not enough, the old primary must stream', async () => {
    const f: ReprotectionStatus = { state: 'Following', of: 'primary', startedAt: T0.toISOString() };
    const not = await reprotectSteps(sides({ engine: fakeEngine({ streaming: false }), primaryPods: [readyPod('db-0')] }), f, new FakeActions(), { io: io(), hold: new FakeHold() }).Following();
    expect(not.done).toBe(false);
    const yes = await reprotectSteps(sides({ engine: fakeEngine({ streaming: true }), primaryPods: [readyPod('db-0')] }), f, new FakeActions(), { io: io(), hold: new FakeHold() }).Following();
    expect(yes).toEqual({ done: true });
    // The standby after a failback: a Ready pod of the failback's epoch, streaming.
    const s: ReprotectionStatus = { ...f, of: 'standby' };
    const status = { active: 'primary' as const, failback: { state: 'Promoted' as const, epoch: 3 } };
    const old = await reprotectSteps(sides({ engine: fakeEngine({}), status, standbyPods: [readyPod('db-standby-0', { 'standby.dev/epoch': '2' })] }), s, new FakeActions(), { io: io(), hold: new FakeHold() }).Following();
    expect(old.done).toBe(false);
    const fresh = await reprotectSteps(sides({ engine: fakeEngine({}), status, standbyPods: [readyPod('db-standby-0', { 'standby.dev/epoch': '3' })] }), s, new FakeActions(), { io: io(), hold: new FakeHold() }).Following();
    expect(fresh).toEqual({ done: true });
  });
});

describe("the old primary's narrowed fence", () => {
  test('hot PostgreSQL: the standby and the failback promote Job may reach it; generic: the standby only', () => {
    const pg = narrowedPrimaryFence(pgSite, primary);
    expect(pg.spec?.ingress).toEqual([
      {
        from: [
          { podSelector: { matchLabels: { 'standby.dev/site': 'db', 'standby.dev/role': 'standby' } } },
          { podSelector: { matchLabels: { 'standby.dev/site': 'db', 'standby.dev/role': 'failback' } } },
        ],
      },
    ]);
    const generic = narrowedPrimaryFence(site({ tier: 'hot', engine: { type: 'generic' } }), primary);
    expect(generic.spec?.ingress).toEqual([{ from: [{ podSelector: { matchLabels: { 'standby.dev/site': 'db', 'standby.dev/role': 'standby' } } }] }]);
  });
});
