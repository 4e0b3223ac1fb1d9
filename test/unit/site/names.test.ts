import { describe, expect, test } from 'vitest';
import { MAX_SITE_NAME } from '../../../src/api/site.ts';
import { names, runId } from '../../../src/site/names.ts';

// Job names become the job-name label of their pods: at most 63 characters.
describe('names of the Jobs a site runs fit a label value', () => {
  const longest = 'a'.repeat(MAX_SITE_NAME);
  const run = runId(new Date('2026-11-22T06:29:00.123Z'));

  test.each([
    ['restore', names.restoreJob(longest, run)],
    ['copy', names.copyJob(longest, run)],
    ['promote', names.promoteJob(longest, `force-${'x'.repeat(60)}`)],
  ])('%s Job of a %d-character site', (_kind, name) => {
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });

  test('a short site keeps the readable restore name; a long one gets the short form, still unique per run', () => {
    expect(names.restoreJob('orders', run)).toBe(`orders-restore-${run}`);
    expect(names.restoreJob(longest, run)).toBe(`${longest}-rst-${run}`);
    expect(names.restoreJob(longest, run)).not.toBe(names.restoreJob(longest, runId(new Date('2026-11-22T06:30:00Z'))));
  });
});
