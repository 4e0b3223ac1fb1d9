// spec.promotion.siteFailover: automatic failover to a standby site in another cluster, decided
// through a witness's lease (docs/design/site-failover.md). Its own file: the timing rule that
// keeps two writers apart is enforced here twice, in CEL by the API server and by the
// controller (src/witness/timing.ts), and both must say the same.
import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from './duration.ts';
import { celString, duration, oneOf, secretKey, section, withRules, type CelRule } from './fields.ts';
import { DEFAULT_TIMING, timingProblems, type WitnessTiming } from '../witness/timing.ts';

export const SITE_FAILOVER_MODES = ['manual', 'automatic'] as const;

/** The timing fields of siteFailover, as durations in the spec. */
const TIMING_FIELDS = ['leaseDuration', 'renewInterval', 'acquireAfter', 'safetyMargin', 'requestTimeout', 'fenceWithin'] as const;
type TimingField = (typeof TIMING_FIELDS)[number];

const formatted = (ms: number): string => `${ms / 1000}s`;

export const SITE_FAILOVER_DEFAULTS = {
  mode: 'manual' as const,
  leaseDuration: formatted(DEFAULT_TIMING.leaseDuration),
  renewInterval: formatted(DEFAULT_TIMING.renewInterval),
  acquireAfter: formatted(DEFAULT_TIMING.acquireAfter),
  safetyMargin: formatted(DEFAULT_TIMING.safetyMargin),
  requestTimeout: formatted(DEFAULT_TIMING.requestTimeout),
  fenceWithin: formatted(DEFAULT_TIMING.fenceWithin),
};

const witness = section('the witness: {kubeconfigSecret: {name, key}, namespace}', {
  kubeconfigSecret: secretKey("a kubeconfig for the witness's API server", 'kubeconfig').meta({
    description:
      "A kubeconfig for the witness's API server. The same Secret (name and key) must exist in the primary's namespace in the primary's cluster: " +
      'each site reaches the witness with its own copy (it may hold its own credentials). Only a server, its CA and an embedded token or client certificate are used.',
  }),
  namespace: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { error: (iss) => `"${String(iss.input)}" is not a namespace name (lowercase letters, digits and -)` })
    .max(63)
    .default('default')
    .meta({ description: "The witness's namespace that holds the lease (a coordination.k8s.io Lease, one per site). Defaults to default." }),
}).meta({ description: 'A Kubernetes API server in a third location, reachable from both sites, that holds the lease.' });

/** The siteFailover timing in milliseconds; undefined where a duration does not parse (the field's own rule says so). */
export function witnessTimingOf(s: Record<TimingField, string>): WitnessTiming | undefined {
  const ms = Object.fromEntries(TIMING_FIELDS.map((f) => [f, parseDuration(s[f])]));
  if (TIMING_FIELDS.some((f) => ms[f] === undefined)) return undefined;
  return { ...(ms as Record<TimingField, number>), maxClockDrift: DEFAULT_TIMING.maxClockDrift };
}

// The timing rule in CEL, in whole milliseconds. The clock drift is not a field: it is fixed at
// DEFAULT_TIMING.maxClockDrift (0.1 %), so the safety inequality multiplies by 1001 and 999.
const ms = (f: TimingField): string => `duration(self.${f}).getMilliseconds()`;
const parses = TIMING_FIELDS.map((f) => `self.${f}.matches(${celString(DURATION_PATTERN)})`).join(' && ');
const drift = Math.round(DEFAULT_TIMING.maxClockDrift * 1000);

const timingRules: (CelRule & { holds: (v: Record<TimingField, string>) => boolean; path?: PropertyKey[] })[] = [
  {
    rule: `!(${parses}) || duration(self.safetyMargin) < duration(self.leaseDuration)`,
    message: 'safetyMargin must be less than leaseDuration: the primary fences itself safetyMargin before its lease ends',
    fieldPath: '.safetyMargin',
    holds: (v) => problemsOf(v).every((p) => !(p.fields[0] === 'safetyMargin' && p.fields[1] === 'leaseDuration')),
    path: ['safetyMargin'],
  },
  {
    rule: `!(${parses}) || duration(self.safetyMargin) >= duration(self.leaseDuration) || ${ms('renewInterval')} + 2 * ${ms('requestTimeout')} <= ${ms('leaseDuration')} - ${ms('safetyMargin')}`,
    message:
      'renewInterval + 2 × requestTimeout must be at most leaseDuration − safetyMargin: a renewal that times out is retried once before the primary fences itself, otherwise one slow request to the witness fences a healthy primary',
    fieldPath: '.renewInterval',
    holds: (v) => problemsOf(v).every((p) => !p.fields.includes('renewInterval')),
    path: ['renewInterval'],
  },
  {
    rule:
      `!(${parses}) || duration(self.safetyMargin) >= duration(self.leaseDuration) || ` +
      `(${ms('leaseDuration')} - ${ms('safetyMargin')}) * ${1000 + drift} + ${ms('fenceWithin')} * 1000 < (${ms('leaseDuration')} + ${ms('acquireAfter')}) * ${1000 - drift}`,
    message:
      "(leaseDuration − safetyMargin) × 1.001 + fenceWithin must be less than (leaseDuration + acquireAfter) × 0.999: otherwise the standby's site may take over before the old primary's fence holds (two writers); raise acquireAfter or safetyMargin",
    fieldPath: '.acquireAfter',
    holds: (v) => problemsOf(v).every((p) => !p.fields.includes('acquireAfter')),
    path: ['acquireAfter'],
  },
];

function problemsOf(v: Record<TimingField, string>) {
  const t = witnessTimingOf(v);
  return t === undefined ? [] : timingProblems(t);
}

/** The timing fields, shared with the guard (api/guard.ts), which carries the site's numbers. */
export const timingShape = {
  leaseDuration: duration('how long one renewal of the lease is good for', { positive: true })
    .default(SITE_FAILOVER_DEFAULTS.leaseDuration)
    .meta({ description: "How long one renewal of the witness's lease is good for, counted by the primary's site from when it sent it." }),
  renewInterval: duration('how often the primary site renews the lease', { positive: true })
    .default(SITE_FAILOVER_DEFAULTS.renewInterval)
    .meta({ description: "How often the primary's site renews the lease." }),
  acquireAfter: duration('how long the standby site waits after the lease ends', { positive: true })
    .default(SITE_FAILOVER_DEFAULTS.acquireAfter)
    .meta({
      description:
        "After leaseDuration without a renewal, how much longer the standby's site waits before it takes the lease: the time the old primary has to fence itself. A lost site is taken over after about leaseDuration + acquireAfter.",
    }),
  safetyMargin: duration('how much earlier than the lease ends the primary fences itself', { positive: true })
    .default(SITE_FAILOVER_DEFAULTS.safetyMargin)
    .meta({ description: "The primary's site fences its primary when it has not renewed for leaseDuration − safetyMargin." }),
  requestTimeout: duration('how long one request to the witness may take', { positive: true })
    .default(SITE_FAILOVER_DEFAULTS.requestTimeout)
    .meta({ description: 'How long one request to the witness may take before it counts as failed.' }),
  fenceWithin: duration("how long the primary's own fence takes to hold", { positive: true })
    .default(SITE_FAILOVER_DEFAULTS.fenceWithin)
    .meta({ description: "How long the primary site's fence takes to hold once it decides to fence itself (written, enforced, sessions ended)." }),
};

export const siteFailover = withRules(
  z.object({
    mode: oneOf(SITE_FAILOVER_MODES, 'a site failover mode')
      .default('manual')
      .meta({
        description:
          "manual: a lost primary site is taken over only on a person's standby.dev/promote=site-lost-<token>. automatic: the standby's site takes over by itself once it holds the witness's lease, " +
          'which the primary\'s site stops renewing, and fences itself, when it is lost or cut off. Needs spec.primary.cluster and witness.',
      }),
    witness: witness.optional(),
    ...timingShape,
  }),
  [
    {
      rule: "self.mode != 'automatic' || has(self.witness)",
      message: 'is required with mode automatic: name the witness, {kubeconfigSecret: {name, key}}',
      fieldPath: '.witness',
      reason: 'FieldValueRequired',
      holds: (v) => v.mode !== 'automatic' || v.witness !== undefined,
      path: ['witness'],
    },
    ...timingRules,
  ],
  "Failover to a standby site in another cluster (spec.primary.cluster). The timing rule that keeps two writers apart is checked: see the README's automatic site failover.",
);

export type SiteFailoverSpec = z.output<typeof siteFailover>;
