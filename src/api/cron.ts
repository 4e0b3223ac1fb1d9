// Schedules in the Kubernetes CronJob dialect: five fields (minute hour
// day-of-month month day-of-week) or a descriptor, no seconds field, no
// CRON_TZ= prefix (the timeZone field says where). The regex sources below are
// used both by the controller and, verbatim, by the CRD's CEL rules, so the API
// server and the controller accept exactly the same schedules.
import { Cron } from 'croner';

const MONTHS = 'JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC';
const DAYS = 'SUN|MON|TUE|WED|THU|FRI|SAT';

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  value: string;
  names?: string[];
}

const FIELDS: FieldSpec[] = [
  { name: 'minute', min: 0, max: 59, value: '[0-5]?[0-9]' },
  { name: 'hour', min: 0, max: 23, value: '[01]?[0-9]|2[0-3]' },
  { name: 'day of month', min: 1, max: 31, value: '0?[1-9]|[12][0-9]|3[01]' },
  { name: 'month', min: 1, max: 12, value: `0?[1-9]|1[0-2]|(?i:${MONTHS})`, names: MONTHS.split('|') },
  { name: 'day of week', min: 0, max: 6, value: `0?[0-6]|(?i:${DAYS})`, names: DAYS.split('|') },
];

function fieldPattern(f: FieldSpec): string {
  const item = `(\\*|\\?|(${f.value})(-(${f.value}))?)(/0*[1-9][0-9]*)?`;
  return `${item}(,${item})*`;
}

export const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

export const CRON_TZ_PATTERN = '^\\s*(CRON_)?TZ=';
export const CRON_DESCRIPTOR_START = '^\\s*@';
export const CRON_DESCRIPTOR_PATTERN = `^\\s*(${Object.keys(DESCRIPTORS).join('|')})\\s*$`;
export const CRON_FIVE_FIELDS_PATTERN = '^\\s*\\S+(\\s+\\S+){4}\\s*$';
export const CRON_FIELDS_PATTERN = `^\\s*${FIELDS.map(fieldPattern).map((p) => `(${p})`).join('\\s+')}\\s*$`;

export const CRON_FIELDS_HELP =
  'minute 0-59, hour 0-23, day of month 1-31, month 1-12 or JAN-DEC, day of week 0-6 or SUN-SAT; ' +
  'each field is *, a value, a range a-b or a list a,b,c, with an optional /step';
export const CRON_COUNT_HELP =
  'exactly 5 fields (minute hour day-of-month month day-of-week), as in a Kubernetes CronJob ' +
  '(no seconds field), or one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly';

const TZ_RE = new RegExp(CRON_TZ_PATTERN);
const DESCRIPTOR_START_RE = new RegExp(CRON_DESCRIPTOR_START);
const DESCRIPTOR_RE = new RegExp(CRON_DESCRIPTOR_PATTERN);
const FIVE_RE = new RegExp(CRON_FIVE_FIELDS_PATTERN);
const FIELD_RES = FIELDS.map((f) => new RegExp(`^${fieldPattern(f)}$`));

/**
 * Checks a schedule in the CronJob dialect. Returns undefined when it is
 * valid, else a sentence that says what is wrong and what is allowed.
 */
export function scheduleProblem(schedule: string): string | undefined {
  if (TZ_RE.test(schedule)) {
    return `"${schedule}" starts with CRON_TZ= or TZ=; put the zone in the timeZone field instead`;
  }
  if (DESCRIPTOR_START_RE.test(schedule)) {
    if (DESCRIPTOR_RE.test(schedule)) return undefined;
    return `"${schedule}" is not a known descriptor; allowed: ${Object.keys(DESCRIPTORS).join(', ')} (use 5 fields for anything else)`;
  }
  if (!FIVE_RE.test(schedule)) {
    const n = schedule.trim() === '' ? 0 : schedule.trim().split(/\s+/).length;
    return `"${schedule}" has ${n} field${n === 1 ? '' : 's'}; a schedule needs ${CRON_COUNT_HELP}`;
  }
  const parts = schedule.trim().split(/\s+/);
  for (const [i, f] of FIELDS.entries()) {
    const part = parts[i]!;
    if (!FIELD_RES[i]!.test(part)) {
      return `"${schedule}": ${f.name} "${part}" is not valid; allowed: ${CRON_FIELDS_HELP}`;
    }
    for (const item of part.split(',')) {
      const range = item.split('/')[0]!;
      const [lo, hi] = range.split('-');
      if (hi === undefined || lo === undefined) continue;
      if (fieldValue(f, lo) > fieldValue(f, hi)) {
        return `"${schedule}": ${f.name} range "${range}" runs backwards; write the smaller value first`;
      }
    }
  }
  return undefined;
}

function fieldValue(f: FieldSpec, text: string): number {
  const idx = f.names?.indexOf(text.toUpperCase()) ?? -1;
  if (idx >= 0) return f.name === 'month' ? idx + 1 : idx;
  return Number(text);
}

/** Turns a descriptor into its five fields and `?` into `*`, for croner. */
function normalize(schedule: string): string {
  const trimmed = schedule.trim();
  return (DESCRIPTORS[trimmed] ?? trimmed).replace(/\?/g, '*');
}

/** The next time a valid schedule fires strictly after `from`, in `timeZone` (UTC when absent). */
export function nextRun(schedule: string, timeZone: string | undefined, from: Date): Date | undefined {
  const cron = new Cron(normalize(schedule), { paused: true, timezone: timeZone ?? 'UTC' });
  return cron.nextRun(from) ?? undefined;
}

/** The newest time a valid schedule fired at or before `at`, in `timeZone` (UTC when absent). */
export function previousRun(schedule: string, timeZone: string | undefined, at: Date): Date | undefined {
  const cron = new Cron(normalize(schedule), { paused: true, timezone: timeZone ?? 'UTC' });
  // previousRuns looks strictly before its reference: a time exactly at `at` counts too.
  return cron.previousRuns(1, new Date(at.getTime() + 1))[0] ?? undefined;
}

/** The interval between two consecutive fire times after `from`: the worst-case data age it implies. */
export function schedulePeriodMs(schedule: string, timeZone: string | undefined, from: Date): number {
  const cron = new Cron(normalize(schedule), { paused: true, timezone: timeZone ?? 'UTC' });
  const [a, b] = cron.nextRuns(2, from);
  return a && b ? b.getTime() - a.getTime() : Number.POSITIVE_INFINITY;
}

/** Whether an IANA time zone name is known to this runtime's tz database. */
export function isKnownTimeZone(tz: string): boolean {
  if (tz.toLowerCase() === 'local') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
