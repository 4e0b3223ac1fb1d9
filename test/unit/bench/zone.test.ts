// The zone-failure bench reads "where the time went" from the operator's histograms, as the
// change between two scrapes: count, mean and the bucket holding the 99th percentile.
import { describe, expect, test } from 'vitest';
import { parseMetrics } from '../../../bench/operator-process.ts';
import { histogramDelta } from '../../../bench/zone.ts';

const scrape = (text: string) => ({ samples: parseMetrics(text), ms: 0 });

describe('histogramDelta', () => {
  test('counts, averages and bounds only what happened between the scrapes, for the matching labels', () => {
    const before = scrape(`
standby_workqueue_wait_seconds_bucket{le="0.1",lane="urgent"} 5
standby_workqueue_wait_seconds_bucket{le="1",lane="urgent"} 5
standby_workqueue_wait_seconds_bucket{le="+Inf",lane="urgent"} 5
standby_workqueue_wait_seconds_sum{lane="urgent"} 0.2
standby_workqueue_wait_seconds_count{lane="urgent"} 5
standby_workqueue_wait_seconds_bucket{le="0.1",lane="routine"} 1
standby_workqueue_wait_seconds_bucket{le="1",lane="routine"} 1
standby_workqueue_wait_seconds_bucket{le="+Inf",lane="routine"} 1
standby_workqueue_wait_seconds_sum{lane="routine"} 0.05
standby_workqueue_wait_seconds_count{lane="routine"} 1
`);
    const after = scrape(`
standby_workqueue_wait_seconds_bucket{le="0.1",lane="urgent"} 104
standby_workqueue_wait_seconds_bucket{le="1",lane="urgent"} 105
standby_workqueue_wait_seconds_bucket{le="+Inf",lane="urgent"} 105
standby_workqueue_wait_seconds_sum{lane="urgent"} 5.2
standby_workqueue_wait_seconds_count{lane="urgent"} 105
standby_workqueue_wait_seconds_bucket{le="0.1",lane="routine"} 1
standby_workqueue_wait_seconds_bucket{le="1",lane="routine"} 1
standby_workqueue_wait_seconds_bucket{le="+Inf",lane="routine"} 3
standby_workqueue_wait_seconds_sum{lane="routine"} 20.05
standby_workqueue_wait_seconds_count{lane="routine"} 3
`);
    // 100 new urgent waits, 5 s in all: mean 50 ms; 99 of them <= 100 ms (the 100th <= 1 s).
    expect(histogramDelta(before, after, 'standby_workqueue_wait_seconds', { lane: 'urgent' })).toEqual({ count: 100, meanMs: 50, p99UpperMs: 100 });
    // Beyond the last finite bucket: no bound to give.
    expect(histogramDelta(before, after, 'standby_workqueue_wait_seconds', { lane: 'routine' })).toEqual({ count: 2, meanMs: 10_000, p99UpperMs: null });
    expect(histogramDelta(after, after, 'standby_workqueue_wait_seconds', { lane: 'urgent' })).toEqual({ count: 0, meanMs: null, p99UpperMs: null });
  });
});
