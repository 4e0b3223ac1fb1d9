// Which volumes of each side re-protection and failback snapshot: the primary's claim templates,
// and the standby's own volumes as its tier builds it (claim templates for hot; the copies it
// mounts by name for warm and cold, which have no claim templates).
import { describe, expect, test } from 'vitest';
import type { V1StatefulSet } from '@kubernetes/client-node';
import { validateSpec, type StandbySite } from '../../../src/api/site.ts';
import { standbyVolumesOf, volumesOf } from '../../../src/reprotect/sides.ts';
import { refuseDuringPromotion } from '../../../src/sync/command.ts';
import { buildStandbyWorkload } from '../../../src/tiers/standby-workload.ts';

const primary: V1StatefulSet = {
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'db', namespace: 'shop' },
  spec: {
    replicas: 1,
    serviceName: 'db',
    selector: { matchLabels: { app: 'db' } },
    template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'main', image: 'example/db:1', volumeMounts: [{ name: 'data', mountPath: '/data' }] }] } },
    volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
  },
};

function site(tier: 'hot' | 'warm' | 'cold'): StandbySite {
  const schedule = { schedule: '@hourly' };
  const v = validateSpec({ tier, ...(tier === 'hot' ? {} : { [tier]: schedule }), primary: { workload: { kind: 'StatefulSet', name: 'db' }, service: 'db' } }, 'db');
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return { metadata: { name: 'db', namespace: 'shop', uid: 'uid-1', generation: 1 }, spec: v.spec, status: {} };
}

describe('the volumes of each side', () => {
  test('the primary: replica 0 of its claim templates', () => {
    expect(volumesOf(primary).map(({ volume, claim }) => ({ volume, claim }))).toEqual([{ volume: 'data', claim: 'data-db-0' }]);
    expect(volumesOf(undefined)).toEqual([]);
  });

  test('a hot standby StatefulSet: replica 0 of its own claim templates', () => {
    const standby = buildStandbyWorkload({ site: site('hot'), primary, template: primary.spec!.template, replicas: 1, volumes: { kind: 'templates' } });
    expect(standbyVolumesOf(standby, primary).map(({ volume, claim }) => ({ volume, claim }))).toEqual([{ volume: 'data', claim: 'data-db-standby-0' }]);
  });

  test.each(['warm', 'cold'] as const)('a %s standby StatefulSet: the copies it mounts, by the primary volume they stand for', (tier) => {
    const standby = buildStandbyWorkload({ site: site(tier), primary, template: primary.spec!.template, replicas: 1, volumes: { kind: 'claims', claims: { data: 'db-copy-data-run1' } } });
    // It has no claim templates: the primary's view of a StatefulSet would see no volume at all.
    expect(volumesOf(standby)).toEqual([]);
    expect(standbyVolumesOf(standby, primary)).toEqual([{ volume: 'data', claim: 'db-copy-data-run1' }]);
    expect(standbyVolumesOf(undefined, primary)).toEqual([]);
  });

  test("a claim the primary also mounts by name is the user's, shared: never the standby's data", () => {
    const shared = { name: 'config', persistentVolumeClaim: { claimName: 'db-config' } };
    const withShared: V1StatefulSet = { ...primary, spec: { ...primary.spec!, template: { ...primary.spec!.template, spec: { ...primary.spec!.template.spec!, volumes: [shared] } } } };
    for (const tier of ['hot', 'warm'] as const) {
      const volumes = tier === 'hot' ? ({ kind: 'templates' } as const) : ({ kind: 'claims', claims: { data: 'db-copy-data-run1' } } as const);
      const standby = buildStandbyWorkload({ site: site(tier), primary: withShared, template: withShared.spec!.template, replicas: 1, volumes });
      // The standby's template mounts it too (copied from the primary's)...
      expect(JSON.stringify(standby.spec?.template)).toContain('db-config');
      // ...but it is not among the volumes re-protection and failback snapshot.
      expect(standbyVolumesOf(standby, withShared).map((v) => v.claim)).not.toContain('db-config');
      expect(standbyVolumesOf(standby, withShared)).toHaveLength(1);
    }
  });
});

describe('warm syncs around the DR cycle', () => {
  const promoted = { state: 'Promoted', startedAt: '2026-12-01T10:00:00Z', completedAt: '2026-12-01T10:00:05Z', epoch: 1 } as const;
  test('refused from the moment a promotion begins, while the standby serves and while a failback runs', () => {
    expect(() => refuseDuringPromotion('shop/db', { promotion: { state: 'Fencing', startedAt: '2026-12-01T10:00:00Z' } })).toThrow(/has a promotion \(Fencing/);
    expect(() => refuseDuringPromotion('shop/db', { promotion: promoted })).toThrow(/no copy is made of the fenced old primary/);
    expect(() => refuseDuringPromotion('shop/db', { promotion: promoted, failback: { state: 'CatchingUp', to: 'primary', startedAt: '2026-12-01T11:00:00Z' } })).toThrow(/has a promotion \(Promoted/);
  });

  const failedBack = { state: 'Promoted', to: 'primary', startedAt: '2026-12-01T11:00:00Z', completedAt: '2026-12-01T11:00:09Z', epoch: 2 } as const;
  test("failed back: refused until the standby's re-protection kept its copies, allowed after (its Seeding waits for a sync)", () => {
    expect(() => refuseDuringPromotion('shop/db', {})).not.toThrow();
    expect(() => refuseDuringPromotion('shop/db', { promotion: promoted, failback: failedBack })).toThrow(/are not kept yet/);
    const preserving = { of: 'standby', state: 'Preserving', startedAt: '2026-12-01T11:00:10Z' } as const;
    expect(() => refuseDuringPromotion('shop/db', { promotion: promoted, failback: failedBack, reprotection: preserving })).toThrow(/are not kept yet/);
    const kept = { ...preserving, state: 'Seeding', divergence: { snapshotRun: 'divergent-x', keptAt: '2026-12-01T11:00:12Z' } } as const;
    expect(() => refuseDuringPromotion('shop/db', { promotion: promoted, failback: failedBack, reprotection: kept })).not.toThrow();
    expect(() => refuseDuringPromotion('shop/db', { promotion: promoted, failback: failedBack, reprotection: { ...kept, state: 'Protected' } })).not.toThrow();
  });
});
