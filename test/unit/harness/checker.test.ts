import { describe, expect, test } from 'vitest';
import { checkLoss, checkWriters, type Write } from '../../sites/checker.ts';

// Writes every 10 ms, each acknowledged 5 ms after it was sent.
function run(site: string, from: number, to: number, firstId: number): Write[] {
  const out: Write[] = [];
  for (let t = from, id = firstId; t < to; t += 10, id++) out.push({ id, site, sentAt: t, ackedAt: t + 5 });
  return out;
}

describe('the partition suite checker: overlapping writers', () => {
  test('one failover, one change of writer: correct', () => {
    const h = [...run('east', 0, 1_000, 0), ...run('west', 3_000, 4_000, 1_000)];
    const c = checkWriters(h, 1);
    expect(c).toMatchObject({ writes: 200, needed: 1, recorded: 1, overlapping: 0 });
    expect(c.chain.map((x) => x.site)).toEqual(['east', 'west']);
  });

  test('failover and failback: two changes, correct', () => {
    const h = [...run('east', 0, 500, 0), ...run('west', 1_000, 1_500, 100), ...run('east', 2_000, 2_500, 200)];
    expect(checkWriters(h, 2).overlapping).toBe(0);
  });

  test('one write the old primary accepted after the new one accepted one is caught', () => {
    const h = [...run('east', 0, 1_000, 0), ...run('west', 3_000, 4_000, 1_000), { id: 9_999, site: 'east', sentAt: 3_100, ackedAt: 3_105 }];
    const c = checkWriters(h, 1);
    // east, west, east (the stray write), west again: three changes of writer where one was made.
    expect(c.overlapping).toBe(2);
    expect(c.chain.map((x) => x.site)).toEqual(['east', 'west', 'east', 'west']);
    expect(c.chain[2]!.id).toBe(9_999);
  });

  test('two sites writing side by side for a second: many alternations', () => {
    const h = [...run('east', 0, 1_000, 0), ...run('west', 0, 1_000, 1_000).map((w) => ({ ...w, sentAt: w.sentAt + 6, ackedAt: w.ackedAt + 6 }))];
    expect(checkWriters(h, 1).overlapping).toBeGreaterThan(50);
  });

  test('writes whose intervals overlap are not ordered: a slow last write of the old primary is no alternation', () => {
    // east's last write was sent before west's first was acknowledged and answered late.
    const h = [...run('east', 0, 1_000, 0), { id: 500, site: 'east', sentAt: 990, ackedAt: 1_200 }, ...run('west', 1_100, 2_000, 1_000)];
    expect(checkWriters(h, 1).overlapping).toBe(0);
  });
});

describe('the partition suite checker: acknowledged writes lost', () => {
  test('on the primary or in a kept divergent copy counts as kept; elsewhere as lost', () => {
    const h = run('east', 0, 50, 1);
    const c = checkLoss(h, new Set([1, 2, 3]), new Set([4]));
    expect(c).toEqual({ acknowledged: 5, lost: [5], onlyDivergent: [4] });
  });
});
