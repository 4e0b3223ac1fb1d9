import { describe, expect, test } from 'vitest';
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { copyRuns } from '../../../src/copies/inventory.ts';
import { lostCopy, runOfClaim, type LostCopyInput } from '../../../src/copies/lost.ts';
import type { JobOutcome } from '../../../src/k8s/jobs.ts';
import { snapshotSets } from '../../../src/snapshot/sets.ts';
import type { VolumeSnapshot } from '../../../src/snapshot/types.ts';

const RUN = '20261122t100000z';
const T = '2026-11-22T10:00:03Z';

function claim(name: string, o: { complete?: boolean; phase?: string; deleting?: boolean; run?: string; volume?: string } = {}): V1PersistentVolumeClaim {
  return {
    metadata: {
      name,
      labels: { 'standby.dev/copy-run': o.run ?? RUN },
      annotations: { 'standby.dev/volume': o.volume ?? 'data', 'standby.dev/data-time': T, ...(o.complete ? { 'standby.dev/complete': 'true' } : {}) },
      creationTimestamp: new Date(T),
      ...(o.deleting ? { deletionTimestamp: new Date() } : {}),
    },
    status: { phase: o.phase ?? 'Bound' },
  };
}

function snap(volume: string, ready = true, run = RUN): VolumeSnapshot {
  return {
    metadata: { name: `db-${volume}-${run}`, labels: { 'standby.dev/copy-run': run }, annotations: { 'standby.dev/volume': volume } },
    status: { readyToUse: ready, creationTime: T },
  };
}

const job = (name: string, o: Partial<JobOutcome>): JobOutcome => ({ name, labels: {}, started: undefined, finished: undefined, succeeded: false, failed: false, message: '', ...o });

function input(o: { claims?: V1PersistentVolumeClaim[]; snaps?: VolumeSnapshot[]; jobs?: JobOutcome[]; volumes?: string[]; mounted?: Record<string, string> } = {}): LostCopyInput {
  const volumes = o.volumes ?? ['data'];
  const claims = o.claims ?? [];
  return {
    site: 'db',
    volumes,
    mounted: o.mounted ?? Object.fromEntries(volumes.map((v) => [v, `db-${v}-${RUN}`])),
    copyClaims: claims,
    runs: copyRuns(claims, volumes),
    sets: snapshotSets(o.snaps ?? [snap('data')], volumes),
    jobs: o.jobs ?? [],
  };
}

describe('runOfClaim', () => {
  test("a warm copy claim's run comes from its name; the hot tier's fixed copy is not a run", () => {
    expect(runOfClaim('db', 'data', `db-data-${RUN}`)).toBe(RUN);
    expect(runOfClaim('db', 'data', 'db-data-hot')).toBeUndefined();
    expect(runOfClaim('db', 'data', `other-data-${RUN}`)).toBeUndefined();
  });
});

describe('lostCopy', () => {
  test('nothing is lost while the standby is on a complete copy, or mounts no copy of a run', () => {
    expect(lostCopy(input({ claims: [claim(`db-data-${RUN}`, { complete: true })] }))).toBeUndefined();
    expect(lostCopy(input({ mounted: { data: 'db-data-hot' } }))).toBeUndefined();
    expect(lostCopy(input({ mounted: {} }))).toBeUndefined();
  });

  test('a newer complete copy: the standby moves onto it, nothing to re-clone', () => {
    const newer = '20261122t110000z';
    expect(lostCopy(input({ claims: [claim(`db-data-${newer}`, { complete: true, run: newer })] }))).toBeUndefined();
  });

  test('the claim deleted and its ready snapshot left: create it again from that snapshot', () => {
    const l = lostCopy(input());
    expect(l).toMatchObject({ run: RUN, action: 'create', lost: [`db-data-${RUN}`], create: { data: `db-data-${RUN}` }, claims: { data: `db-data-${RUN}` } });
    expect(l?.set?.snapshots).toEqual({ data: `db-data-${RUN}` });
    expect(l?.set?.time.toISOString()).toBe(new Date(T).toISOString());
    expect(l?.message).toContain(`PersistentVolumeClaim db-data-${RUN} was deleted outside the operator`);
    expect(l?.message).toContain(`re-cloning it from VolumeSnapshot db-data-${RUN} (data from 2026-11-22T10:00:03.000Z)`);
    expect(l?.event).toBe(l?.message);
  });

  test('the old claim still being deleted: wait', () => {
    expect(lostCopy(input({ claims: [claim(`db-data-${RUN}`, { complete: true, deleting: true })] }))?.action).toBe('wait');
  });

  test('re-cloned, not yet proven: prove it with the check Job, then mark it complete once Bound', () => {
    const made = [claim(`db-data-${RUN}`, { phase: 'Pending' })];
    expect(lostCopy(input({ claims: made }))?.action).toBe('prove');
    expect(lostCopy(input({ claims: made, jobs: [job(`db-bind-${RUN}`, {})] }))?.action).toBe('prove');
    expect(lostCopy(input({ claims: made, jobs: [job(`db-bind-${RUN}`, { succeeded: true })] }))?.action).toBe('wait');
    const bound = [claim(`db-data-${RUN}`, { phase: 'Bound' })];
    const l = lostCopy(input({ claims: bound, jobs: [job(`db-bind-${RUN}`, { succeeded: true })] }));
    expect(l?.action).toBe('mark');
    expect(l?.lost).toEqual([`db-data-${RUN}`]);
  });

  test('the check Job failed: said, and the next sync is what makes a copy', () => {
    const l = lostCopy(input({ claims: [claim(`db-data-${RUN}`)], jobs: [job(`db-bind-${RUN}`, { failed: true, message: 'DeadlineExceeded' })] }));
    expect(l?.action).toBe('failed');
    expect(l?.message).toContain('re-cloning it from its snapshot failed (DeadlineExceeded): the next scheduled sync makes a new copy');
  });

  test('no ready snapshot of that run: nothing to do but say the next sync makes a new copy', () => {
    for (const snaps of [[], [snap('data', false)], [snap('data', true, '20261122t090000z')]]) {
      const l = lostCopy(input({ snaps }));
      expect(l?.action).toBe('none');
      expect(l?.set).toBeUndefined();
      expect(l?.message).toContain('no ready snapshot of that copy is left');
      expect(l?.message).toContain('the next scheduled sync makes a new copy (or run one now: kubectl create job --from=cronjob/db-sync <name>)');
    }
  });

  test('two volumes, one claim deleted: only that one is lost and made again; the set must hold both', () => {
    const volumes = ['data', 'wal'];
    const claims = [claim(`db-wal-${RUN}`, { complete: true, volume: 'wal' })];
    const l = lostCopy(input({ volumes, claims, snaps: [snap('data'), snap('wal')] }));
    expect(l).toMatchObject({ action: 'create', lost: [`db-data-${RUN}`], create: { data: `db-data-${RUN}` } });
    expect(lostCopy(input({ volumes, claims, snaps: [snap('data')] }))?.action).toBe('none');
  });
});
