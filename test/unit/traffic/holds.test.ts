import { describe, expect, test } from 'vitest';
import { trafficState } from '../../../src/traffic/holds.ts';

const want = { 'standby.dev/site': 'db', 'standby.dev/role': 'standby' };
const svc = (selector: Record<string, string>) => ({ metadata: { name: 'db' }, spec: { selector } });

describe('after a promotion, the clients\' Service selects the promoted standby (issue 21 item 11)', () => {
  test('the promoted selector, in any key order, holds', () => {
    expect(trafficState(svc({ 'standby.dev/role': 'standby', 'standby.dev/site': 'db' }), 'db', want, false)).toMatchObject({ holds: true, reason: 'Switched' });
  });

  test('a selector put back to the primary is SelectorReverted, unless restored in this very reconcile', () => {
    const s = trafficState(svc({ app: 'db' }), 'db', want, false);
    expect(s).toMatchObject({ holds: false, reason: 'SelectorReverted' });
    expect(s.message).toContain('Service db selects {"app":"db"}');
    expect(trafficState(svc({ app: 'db' }), 'db', want, true).holds).toBe(true);
    // A selector with an extra key selects nothing of the standby: not the promoted one either.
    expect(trafficState(svc({ ...want, app: 'db' }), 'db', want, false).holds).toBe(false);
  });
});
