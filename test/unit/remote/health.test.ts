import { describe, expect, test } from 'vitest';
import { afterProbe, afterSync, FAILURES_TO_UNREACHABLE, initialHealth, resumedSince, type RemoteHealth } from '../../../src/remote/health.ts';

const t = (s: number) => new Date(Date.UTC(2026, 11, 1, 10, 0, s));
const lost = { ok: false as const, kind: 'unanswered' as const, error: 'https://10.0.0.1:6443 did not answer within the probe timeout' };
const refused = { ok: false as const, kind: 'refused' as const, error: 'https://10.0.0.1:6443 answered HTTP 403: forbidden' };

function reachable(): RemoteHealth {
  let h = initialHealth(t(0));
  h = afterProbe(h, { ok: true }, t(1));
  return afterSync(h, t(2));
}

describe('the health of a primary cluster', () => {
  test('starts unreachable ("not contacted yet"); an answer alone is not enough: reachable once the caches listed afresh', () => {
    const h0 = initialHealth(t(0));
    expect(h0).toMatchObject({ reachable: false, lastError: 'not contacted yet' });
    const h1 = afterProbe(h0, { ok: true }, t(1));
    expect(h1).toMatchObject({ reachable: false, resyncing: true, answering: true });
    const h2 = afterSync(h1, t(2));
    expect(h2).toMatchObject({ reachable: true, since: t(2), lastError: undefined, resyncing: false });
  });

  test(`one lost probe is a blip; ${FAILURES_TO_UNREACHABLE} in a row make it unreachable since the first of them`, () => {
    const h = reachable();
    const one = afterProbe(h, lost, t(10));
    expect(one).toMatchObject({ reachable: true, failures: 1 });
    expect(afterProbe(one, { ok: true }, t(15))).toMatchObject({ reachable: true, failures: 0, firstFailure: undefined });
    const two = afterProbe(one, lost, t(15));
    expect(two).toMatchObject({ reachable: false, since: t(10), lastError: lost.error, answering: false });
    // Still failing: since stays at the start of the outage.
    expect(afterProbe(two, lost, t(20))).toMatchObject({ reachable: false, since: t(10) });
  });

  test('coming back: the next answer starts a fresh list; only its end makes it reachable again', () => {
    const down = afterProbe(afterProbe(reachable(), lost, t(10)), lost, t(15));
    const answered = afterProbe(down, { ok: true }, t(60));
    expect(answered).toMatchObject({ reachable: false, resyncing: true, since: t(10) });
    // A failure during the fresh list keeps it down.
    expect(afterSync(afterProbe(answered, lost, t(61)), t(62)).reachable).toBe(false);
    expect(afterSync(answered, t(61))).toMatchObject({ reachable: true, since: t(61) });
  });

  test('an API server that answers but refuses the operator is not reachable, and it is "answering" (the site is up)', () => {
    const h = afterProbe(afterProbe(reachable(), refused, t(10)), refused, t(15));
    expect(h).toMatchObject({ reachable: false, answering: true, lastError: refused.error });
  });

  test('after an operator restart, an outage the status records keeps its start', () => {
    const fresh = afterProbe(initialHealth(t(100)), lost, t(100));
    expect(resumedSince(fresh, { reachable: false, since: t(10).toISOString() })).toEqual(t(10));
    expect(resumedSince(fresh, { reachable: true, since: t(10).toISOString() })).toEqual(t(100));
    expect(resumedSince(reachable(), { reachable: false, since: t(0).toISOString() })).toEqual(t(2));
  });
});
