import { describe, expect, test } from 'vitest';
import { STANDBY_SUFFIX, TRAFFIC_SUFFIX, siteCelRules } from '../../../src/api/conflicts.ts';
import { names } from '../../../src/site/names.ts';

describe('the name conflicts the CRD refuses', () => {
  test('use the names the operator really gives its objects', () => {
    expect(names.standby('db')).toBe(`db${STANDBY_SUFFIX}`);
    expect(names.standbyService('db')).toBe(`db${STANDBY_SUFFIX}`);
    expect(names.traffic('db', { traffic: {} })).toBe(`db${TRAFFIC_SUFFIX}`);
  });

  test('are guarded so that an absent field leaves the error to the schema, and each names its field', () => {
    for (const r of siteCelRules()) {
      expect(r.rule).toMatch(/^!\(has\(self\.spec\)/);
      expect(r.fieldPath).toMatch(/^\.spec\./);
      expect(r.messageExpression).toBeTruthy();
    }
  });
});
