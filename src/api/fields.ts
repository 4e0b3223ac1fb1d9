// Field builders shared by the StandbySite schema. Each builds a zod schema
// whose error messages say what was given and what is allowed, and whose
// metadata carries the CEL rules (x-kubernetes-validations) that the CRD
// generator copies into the OpenAPI schema: one definition, two enforcers.
import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from './duration.ts';
import {
  CRON_COUNT_HELP,
  CRON_DESCRIPTOR_PATTERN,
  CRON_DESCRIPTOR_START,
  CRON_FIELDS_HELP,
  CRON_FIELDS_PATTERN,
  CRON_FIVE_FIELDS_PATTERN,
  CRON_TZ_PATTERN,
  DESCRIPTORS,
  scheduleProblem,
} from './cron.ts';

/** A timestamp in status: an RFC 3339 string, as the API server sends it. */
export const time = z.string().meta({ format: 'date-time' });

/** A CEL validation rule as the API server takes it (a type, not an interface: it is JSON). */
export type CelRule = {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  /** oldSelf is an optional (absent on create), so a transition rule runs on create too. */
  optionalOldSelf?: boolean;
};

/** Quotes text as a single-quoted CEL string literal. */
export function celString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function shown(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (typeof input === 'string') return `"${input}"`;
  return JSON.stringify(input);
}

function kind(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  return typeof input === 'object' ? 'an object' : `${typeof input} ${shown(input)}`;
}

/** A required string; `what` describes the allowed values for the message. */
export function text(what: string, maxLength: number): z.ZodString {
  return z
    .string({
      error: (iss) => (iss.input === undefined ? `is required: ${what}` : `must be ${what}, got ${kind(iss.input)}`),
    })
    .max(maxLength, { error: (iss) => `${shown(iss.input)} is too long: at most ${maxLength} characters` });
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** The name of a namespaced object such as a StatefulSet, Deployment or Secret (RFC 1123 subdomain). */
export function objectName(what: string): z.ZodString {
  return text(`the name of ${what}`, 253)
    .min(1, { error: `must not be empty: give the name of ${what}`, abort: true })
    .regex(DNS_SUBDOMAIN, {
      error: (iss) =>
        `${shown(iss.input)} is not a valid name for ${what}: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit`,
    });
}

/** The name of a Service (RFC 1035 label, at most 63 characters). */
export function serviceName(what: string): z.ZodString {
  return text(`the name of ${what}`, 63)
    .min(1, { error: `must not be empty: give the name of ${what}`, abort: true })
    .regex(DNS_LABEL, {
      error: (iss) =>
        `${shown(iss.input)} is not a valid Service name: lower-case letters, digits and '-', starting with a letter, at most 63 characters`,
    });
}

/** A closed set of strings. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T, what: string) {
  return z.enum(values, {
    error: (iss) =>
      iss.input === undefined
        ? `is required: ${what}; allowed: ${values.join(', ')}`
        : `${shown(iss.input)} is not ${what}; allowed: ${values.join(', ')}`,
  });
}

/** A whole number within [min, max]. */
export function integer(what: string, min: number, max: number) {
  return z
    .number({
      error: (iss) => (iss.input === undefined ? `is required: ${what}` : `must be ${what}, got ${kind(iss.input)}`),
    })
    .int({ error: (iss) => `${shown(iss.input)} is not a whole number: ${what}` })
    .min(min, { error: (iss) => `${shown(iss.input)} is too small: ${what} must be at least ${min}` })
    .max(max, { error: (iss) => `${shown(iss.input)} is too large: ${what} must be at most ${max}` });
}

export function flag(what: string) {
  return z.boolean({ error: (iss) => `must be true or false (${what}), got ${kind(iss.input)}` });
}

const DURATION_HELP = 'write it as Kubernetes does, e.g. 30s, 15m, 720h or 1h30m';

/**
 * A duration in Go's syntax. `positive` says whether zero is refused too;
 * negative durations are always refused.
 */
export function duration(what: string, opts: { positive: boolean }) {
  const bound = opts.positive ? 'greater than zero' : 'zero or more';
  const cmp = opts.positive ? '>' : '>=';
  const pattern = celString(DURATION_PATTERN);
  return text(`a duration (${what}); ${DURATION_HELP}`, 64)
    .superRefine((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration; ${DURATION_HELP}` });
      } else if (opts.positive ? ms <= 0 : ms < 0) {
        ctx.addIssue({ code: 'custom', message: `"${value}" must be ${bound} (${what})` });
      }
    })
    .meta({
      'x-kubernetes-validations': [
        {
          rule: `self.matches(${pattern})`,
          // celString: `what` may hold a quote (an apostrophe would end a bare CEL string).
          messageExpression: `'"' + self + ${celString(`" is not a duration; ${DURATION_HELP}`)}`,
        },
        {
          rule: `!self.matches(${pattern}) || duration(self) ${cmp} duration('0s')`,
          messageExpression: `'"' + self + ${celString(`" must be ${bound} (${what})`)}`,
        },
      ] satisfies CelRule[],
    });
}

/** A schedule in the Kubernetes CronJob dialect. */
export function schedule() {
  const isDescriptor = `self.matches(${celString(CRON_DESCRIPTOR_START)})`;
  const fiveFields = `self.matches(${celString(CRON_FIVE_FIELDS_PATTERN)})`;
  return text(`a schedule: ${CRON_COUNT_HELP}`, 128)
    .superRefine((value, ctx) => {
      const problem = scheduleProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .meta({
      'x-kubernetes-validations': [
        {
          rule: `!self.matches(${celString(CRON_TZ_PATTERN)})`,
          messageExpression: `'"' + self + '" starts with CRON_TZ= or TZ=; put the zone in the timeZone field instead'`,
        },
        {
          rule: `${isDescriptor} || ${fiveFields}`,
          messageExpression: `'"' + self + '" does not have 5 fields; a schedule needs ${CRON_COUNT_HELP}'`,
        },
        {
          rule: `!${isDescriptor} || self.matches(${celString(CRON_DESCRIPTOR_PATTERN)})`,
          messageExpression: `'"' + self + '" is not a known descriptor; allowed: ${Object.keys(DESCRIPTORS).join(', ')}'`,
        },
        {
          rule: `${isDescriptor} || !${fiveFields} || self.matches(${celString(CRON_FIELDS_PATTERN)})`,
          messageExpression: `'"' + self + '" has a field out of range; allowed: ${CRON_FIELDS_HELP}'`,
        },
      ] satisfies CelRule[],
    });
}

const TZ_SHAPE = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

/** An IANA time zone name; the API server checks its shape, the controller checks it exists. */
export function timeZone() {
  return text('an IANA time zone name such as Europe/Berlin or UTC', 64).regex(TZ_SHAPE, {
    error: (iss) => `${shown(iss.input)} is not an IANA time zone name such as Europe/Berlin or UTC`,
  });
}

/**
 * A Kubernetes object kept as the user wrote it (a pod template, an env var).
 * Only the fields named in `shape` are checked here; the API server checks the
 * rest when the operator creates the object that embeds it.
 */
export function embedded<T extends z.ZodRawShape>(shape: T, what: string) {
  return z.looseObject(shape, {
    error: (iss) => (iss.input === undefined ? `is required: ${what}` : `must be ${what}, got ${kind(iss.input)}`),
  });
}

/** A pod template (metadata and spec), as in a Job or StatefulSet. */
export function podTemplate(what: string) {
  const container = embedded(
    {
      name: text('a container name', 63)
        .min(1, { error: 'must not be empty: give the container a name' })
        .meta({ description: 'The container name (a DNS label).' }),
    },
    'a container',
  ).meta({ description: 'A core/v1 Container.' });
  return embedded(
    {
      metadata: embedded({}, 'object metadata')
        .optional()
        .meta({ description: "Labels and annotations of the Job's pods; the operator adds the site's labels." }),
      spec: embedded(
        {
          containers: z
            .array(container, { error: 'must be a list of containers' })
            .min(1, { error: 'needs at least one container' })
            .meta({ description: 'The containers of the pod (core/v1 Container), at least one.' }),
        },
        'a pod spec',
      ).meta({
        description:
          'A core/v1 PodSpec. Fields not checked here are kept as written and checked by the API server when the operator creates the Job; restartPolicy defaults to Never.',
      }),
    },
    what,
  );
}

/** Attaches CEL rules and their TypeScript twins to an object schema. */
export function withRules<T extends z.ZodType>(
  schema: T,
  rules: (CelRule & { holds: (value: z.output<T>) => boolean; path?: PropertyKey[] })[],
  description?: string,
): T {
  const checked = schema.superRefine((value, ctx) => {
    for (const r of rules) {
      if (!r.holds(value)) ctx.addIssue({ code: 'custom', message: r.message ?? r.rule, path: r.path ?? [] });
    }
  });
  return checked.meta({
    ...(description ? { description } : {}),
    'x-kubernetes-validations': rules.map(({ holds: _h, path: _p, ...rule }) => rule),
  });
}

/** A reference to one key of a Secret in the site's namespace, {name, key}. */
export function secretKey(what: string, defaultKey: string) {
  return section(`a Secret key reference {name, key} (${what})`, {
    name: objectName(`the Secret holding ${what}`).meta({ description: `The Secret (in the site's namespace) holding ${what}.` }),
    key: text('a key of the Secret', 253)
      .min(1, { error: 'must not be empty: give the key of the Secret' })
      .default(defaultKey)
      .meta({ description: `The key in the Secret's data. Defaults to ${defaultKey}.` }),
  });
}

/** An object section of the spec; `what` says what belongs there. */
export function section<T extends z.ZodRawShape>(what: string, shape: T) {
  return z.object(shape, {
    error: (iss) => (iss.input === undefined ? `is required: ${what}` : `must be ${what}, got ${kind(iss.input)}`),
  });
}
