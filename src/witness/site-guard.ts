// The standby side's view of a site that fails over automatically: the StandbySiteGuard it
// writes into the primary's cluster (docs/design/site-failover.md, SITEFAIL contract), the
// lease's name on the witness and the two holder identities. Pure.
import { createHash } from 'node:crypto';
import { API_VERSION } from '../api/site.ts';
import type { StandbySite } from '../api/site.ts';
import { GUARD_KIND, type GuardObject, type GuardSpec } from '../api/guard.ts';
import { ANNOTATION_SITE_UID, siteLabels } from '../site/names.ts';

/** The primary site's identity on the lease (a new site of the same name never inherits it). */
export const primaryHolder = (uid: string): string => `primary:${uid}`;
/** The standby site's identity on the lease. */
export const standbyHolder = (uid: string): string => `standby:${uid}`;

/**
 * The Lease on the witness for one site: `standby-<site namespace>-<site name>`, and when that is
 * no valid name (over 63 characters: a Lease name is a DNS subdomain, but 63 keeps it a label
 * too), its first 52 characters and a hash of the whole, so two sites never share one.
 */
export function leaseNameOf(siteNamespace: string, siteName: string): string {
  const full = `standby-${siteNamespace}-${siteName}`;
  if (full.length <= 63) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 10);
  return `${full.slice(0, 52).replace(/-+$/, '')}-${hash}`;
}

/** The primary's namespace in its cluster. */
function primaryNamespace(site: StandbySite): string {
  return site.spec.primary.namespace ?? site.metadata.namespace;
}

/**
 * The guard for a site with promotion.siteFailover.mode automatic, or undefined for any other
 * site. `epoch` is the epoch the primary serves at (the site's status.epoch, 1 before any
 * promotion); `ack` is kept as read from the live guard (only the failsafe answer changes it).
 */
export function buildGuard(site: StandbySite, epoch: number, ack?: GuardSpec['ack']): GuardObject | undefined {
  const sf = site.spec.promotion.siteFailover;
  if (sf.mode !== 'automatic' || !sf.witness || !site.spec.primary.cluster) return undefined;
  const uid = site.metadata.uid ?? '';
  return {
    apiVersion: API_VERSION,
    kind: GUARD_KIND,
    metadata: {
      name: site.metadata.name,
      namespace: primaryNamespace(site),
      labels: siteLabels(site.metadata.name, 'guard'),
      ...(uid ? { annotations: { [ANNOTATION_SITE_UID]: uid } } : {}),
    },
    spec: {
      site: { name: site.metadata.name, namespace: site.metadata.namespace, uid },
      workload: { kind: site.spec.primary.workload.kind, name: site.spec.primary.workload.name },
      witness: {
        kubeconfigSecret: { name: sf.witness.kubeconfigSecret.name, key: sf.witness.kubeconfigSecret.key },
        namespace: sf.witness.namespace,
        leaseName: leaseNameOf(site.metadata.namespace, site.metadata.name),
      },
      holder: primaryHolder(uid),
      epoch,
      timing: {
        leaseDuration: sf.leaseDuration,
        renewInterval: sf.renewInterval,
        acquireAfter: sf.acquireAfter,
        safetyMargin: sf.safetyMargin,
        requestTimeout: sf.requestTimeout,
        fenceWithin: sf.fenceWithin,
      },
      ...(ack ? { ack } : {}),
    },
  };
}

/** What must change on the live guard for it to match `want` (labels and spec); undefined when nothing. */
export function guardDrift(want: GuardObject, live: { metadata?: { labels?: Record<string, string> }; spec?: unknown }): { labels?: Record<string, string>; spec?: GuardSpec } | undefined {
  const labelsOff = Object.entries(want.metadata.labels ?? {}).some(([k, v]) => live.metadata?.labels?.[k] !== v);
  const specOff = JSON.stringify(canonical(want.spec)) !== JSON.stringify(canonical(live.spec));
  if (!labelsOff && !specOff) return undefined;
  return { ...(labelsOff ? { labels: want.metadata.labels ?? {} } : {}), ...(specOff ? { spec: want.spec } : {}) };
}

/** Keys sorted at every level, so two equal specs compare equal whatever order the server keeps. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, canonical(x)]));
  return v;
}

/**
 * The failsafe ping to answer: the guard's status.ping.number when it is above spec.ack.ping
 * (the last one answered), else undefined.
 */
export function pingToAnswer(live: { spec?: { ack?: { ping?: number } }; status?: { ping?: { number?: number } } } | undefined): number | undefined {
  const n = live?.status?.ping?.number;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) return undefined;
  return n > (live?.spec?.ack?.ping ?? -1) ? n : undefined;
}
