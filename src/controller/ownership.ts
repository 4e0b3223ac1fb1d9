// Before a site acts: is the workload another site's to protect, and are the names the site
// writes taken by objects that are not its own? Either stops the site, saying why (Stalled).
import { validateSpec, type StandbySite, type StandbySiteObject } from '../api/site.ts';
import { toDate, type KubeObject } from '../k8s/types.ts';
import { names } from '../site/names.ts';
import { ownershipOf } from '../site/ownership.ts';
import { informerOfKind, type Caches } from './caches.ts';

export interface Blocked {
  reason: 'NameConflict' | 'WorkloadProtected';
  message: string;
}

/**
 * The site that protects this site's workload, when it is another: of the sites naming the same
 * workload the oldest wins (then the name), stably across restarts and replicas.
 */
export function protectingSite(c: Caches, site: StandbySite): StandbySiteObject | undefined {
  const w = site.spec.primary.workload;
  // Only sites that can act: one being deleted, or whose spec the controller refuses, protects nothing.
  const rivals = c.sites
    .byIndex('primary', `${site.metadata.namespace}/${w.kind}/${w.name}`)
    .filter((s) => !s.metadata?.deletionTimestamp && (s.metadata?.uid === site.metadata.uid || validateSpec(s.spec, s.metadata?.name).ok));
  const created = (s: StandbySiteObject) => toDate(s.metadata?.creationTimestamp)?.getTime() ?? 0;
  const name = (s: StandbySiteObject) => s.metadata?.name ?? '';
  const winner = rivals.sort((a, b) => created(a) - created(b) || (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0))[0];
  return winner && winner.metadata?.uid !== site.metadata.uid ? winner : undefined;
}

/** The objects of names the site would write that exist and are not the site's, as sentences. */
export function nameConflicts(c: Caches, site: StandbySite, wanted: readonly KubeObject[]): string[] {
  const ns = site.metadata.namespace;
  const byName = new Map<string, { kind: string; name: string }>();
  for (const o of wanted) byName.set(`${o.kind}/${o.metadata?.name}`, { kind: o.kind ?? '', name: o.metadata?.name ?? '' });
  // Written by a promotion whatever the tier: the fence, and the traffic Service (operatorService mode).
  byName.set(`NetworkPolicy/${names.fence(site.metadata.name)}`, { kind: 'NetworkPolicy', name: names.fence(site.metadata.name) });
  if (site.spec.traffic.mode === 'operatorService') {
    const t = names.traffic(site.metadata.name, site.spec);
    byName.set(`Service/${t}`, { kind: 'Service', name: t });
  }
  const out: string[] = [];
  for (const { kind, name } of byName.values()) {
    const live = informerOfKind(c, kind)?.get(`${ns}/${name}`);
    if (!live) continue;
    const own = ownershipOf(live, { name: site.metadata.name, uid: site.metadata.uid });
    if (!own.ours) out.push(`${kind} ${name} already exists and ${own.why}`);
  }
  return out;
}

/** What a person can do about name conflicts. */
export function conflictAdvice(site: StandbySite): string {
  return `the operator never takes over an object it did not create: rename or delete it${
    site.spec.traffic.mode === 'operatorService' ? ', set spec.traffic.service to another name,' : ''
  } or give this StandbySite another name`;
}
