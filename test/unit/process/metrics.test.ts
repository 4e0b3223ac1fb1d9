import { describe, expect, test } from 'vitest';
import { Metrics, type SiteSample } from '../../../src/process/metrics.ts';

const sample = (over: Partial<SiteSample>): SiteSample => ({
  namespace: 'shop',
  name: 'orders',
  tier: 'hot',
  phase: 'Protected',
  dataAgeSeconds: undefined,
  rpoTargetSeconds: 30,
  fencedPrimaryReturned: false,
  conditions: [],
  promotionState: undefined,
  ...over,
});

function metricsWith(sites: SiteSample[]): Metrics {
  return new Metrics({ queue: () => ({ depth: 0, delayed: 0, inFlight: 0 }), sites: () => sites });
}

const lines = async (m: Metrics, name: string) => (await m.registry.metrics()).split('\n').filter((l) => l.startsWith(`${name}{`));

describe('site metrics for alerts and dashboards', () => {
  test('each condition as three series, 1 for its current status', async () => {
    const m = metricsWith([sample({ conditions: [{ type: 'StandbyReady', status: 'False' }, { type: 'Ready', status: 'True' }] })]);
    expect(await lines(m, 'standby_site_condition')).toEqual([
      'standby_site_condition{namespace="shop",site="orders",tier="hot",condition="StandbyReady",status="True"} 0',
      'standby_site_condition{namespace="shop",site="orders",tier="hot",condition="StandbyReady",status="False"} 1',
      'standby_site_condition{namespace="shop",site="orders",tier="hot",condition="StandbyReady",status="Unknown"} 0',
      'standby_site_condition{namespace="shop",site="orders",tier="hot",condition="Ready",status="True"} 1',
      'standby_site_condition{namespace="shop",site="orders",tier="hot",condition="Ready",status="False"} 0',
      'standby_site_condition{namespace="shop",site="orders",tier="hot",condition="Ready",status="Unknown"} 0',
    ]);
  });

  test('the promotion state of sites that have one; sites gone from the cache leave no series', async () => {
    const sites = [sample({ promotionState: 'Promoting' }), sample({ name: 'calm' })];
    const m = metricsWith(sites);
    expect(await lines(m, 'standby_site_promotion_state')).toEqual(['standby_site_promotion_state{namespace="shop",site="orders",tier="hot",state="Promoting"} 1']);
    sites.splice(0, 1);
    expect(await lines(m, 'standby_site_promotion_state')).toEqual([]);
  });

  test('initialize creates the counter series at 0, so the first promotion and watch error show as an increase', async () => {
    const m = metricsWith([]);
    m.initialize({ tiers: ['cold', 'hot'], watchedResources: ['pods'] });
    const promotions = await lines(m, 'standby_promotions_total');
    expect(promotions).toHaveLength(2 * 2 * 3);
    expect(promotions).toContain('standby_promotions_total{tier="hot",result="Failed",trigger="automatic"} 0');
    expect(await lines(m, 'standby_watch_errors_total')).toEqual(['standby_watch_errors_total{resource="pods",kind="gone"} 0', 'standby_watch_errors_total{resource="pods",kind="error"} 0']);
    expect(await lines(m, 'standby_promotion_duration_seconds_count')).toEqual(['standby_promotion_duration_seconds_count{tier="cold"} 0', 'standby_promotion_duration_seconds_count{tier="hot"} 0']);
  });
});
