import { describe, expect, test } from 'vitest';
import { formatDuration, parseDuration } from '../../../src/api/duration.ts';
import { isKnownTimeZone, nextRun, schedulePeriodMs, scheduleProblem } from '../../../src/api/cron.ts';

describe('durations in the Go dialect', () => {
  test.each([
    ['30s', 30_000],
    ['15m', 900_000],
    ['720h', 2_592_000_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1.5s', 1500],
    ['0', 0],
    ['0s', 0],
    ['-5m', -300_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test.each(['', '5', '1d', '5 m', 'm', '1h 30m', 'forever'])('"%s" is not a duration', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  test.each([
    [0, '0s'],
    [250, '250ms'],
    [30_000, '30s'],
    [90_000, '1m30s'],
    [3_600_000, '1h0m0s'],
    [1500, '1.5s'],
  ])('%d ms prints as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});

describe('schedules in the CronJob dialect', () => {
  test('fires in the given time zone', () => {
    // 02:00 in Berlin is 01:00 UTC in winter.
    expect(nextRun('0 2 * * *', 'Europe/Berlin', new Date('2026-11-22T00:00:00Z'))?.toISOString()).toBe('2026-11-22T01:00:00.000Z');
    expect(nextRun('0 2 * * *', undefined, new Date('2026-11-22T00:00:00Z'))?.toISOString()).toBe('2026-11-22T02:00:00.000Z');
  });

  test('descriptors expand to their five fields', () => {
    expect(nextRun('@hourly', undefined, new Date('2026-11-22T00:10:00Z'))?.toISOString()).toBe('2026-11-22T01:00:00.000Z');
    expect(scheduleProblem('@midnight')).toBeUndefined();
  });

  test('the period of a schedule', () => {
    expect(schedulePeriodMs('*/15 * * * *', undefined, new Date('2026-11-22T00:00:00Z'))).toBe(900_000);
    expect(schedulePeriodMs('@daily', 'Europe/Berlin', new Date('2026-11-22T00:00:00Z'))).toBe(86_400_000);
  });

  test('time zones come from the IANA database', () => {
    expect(isKnownTimeZone('Europe/Berlin')).toBe(true);
    expect(isKnownTimeZone('UTC')).toBe(true);
    expect(isKnownTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(isKnownTimeZone('Local')).toBe(false);
  });
});
