// Helpers of the issue-21 defect tests (defects.test.ts): site manifests, Events, the objects
// a site makes, and the garbage collector's view of a deleted site.
import { expect } from 'vitest';
import { apply, kubectl, kubectlJson, waitFor } from '../../cluster/helpers.ts';
import { getSite, podNames, setPodReady, type SiteObject } from './operator.ts';

export function site(name: string, tier: string, extra: string, promotion = 'mode: automatic, failureThreshold: 2s'): string {
  return `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ${name}}
spec:
  tier: ${tier}
  primary: {workload: {kind: StatefulSet, name: ${name}}, service: ${name}}
  promotion: {${promotion}}
${extra}`;
}

/** A hot site whose promote Job can never run (its pod fits no node): a promotion stays in Promoting. */
export const stuckHot = (promotion: string) =>
  site(
    'db',
    'hot',
    `  engine:
    type: generic
    generic:
      promoteJobTemplate:
        spec:
          nodeSelector: {standby.dev/e2e: nowhere}
          containers: [{name: promote, image: example.invalid/promote:1}]
`,
    promotion,
  );

export const isProtected = (s: SiteObject) => s.status?.phase === 'Protected';
export const promoted = (s: SiteObject) => s.status?.phase === 'Promoted' && s.status.promotion?.state === 'Promoted';
export const STANDBY_SELECTOR = { 'standby.dev/site': 'db', 'standby.dev/role': 'standby' };

/** Two label maps with the same entries, in any order (the API server sorts keys). */
export function sameMap(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  const text = (m: Record<string, string>) => JSON.stringify(Object.entries(m).sort(([x], [y]) => (x < y ? -1 : 1)));
  return a !== undefined && text(a) === text(b);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function failPrimary(n: string, name = 'db'): Promise<void> {
  const pods = await podNames(n, `app=${name}`);
  expect(pods.length).toBeGreaterThan(0);
  for (const p of pods) await setPodReady(n, p, false);
}

export interface EventItem {
  reason: string;
  message: string;
  count?: number;
  involvedObject: { name: string };
}

export async function events(n: string, reason: string): Promise<EventItem[]> {
  return (await kubectlJson<{ items: EventItem[] }>(['-n', n, 'get', 'events', '--field-selector', `reason=${reason}`])).items;
}

/** How many times an Event of that reason was recorded (repeats bump `count`). */
export async function eventCount(n: string, reason: string): Promise<number> {
  return (await events(n, reason)).reduce((sum, e) => sum + (e.count ?? 1), 0);
}

export interface ServiceObj {
  metadata: { name: string; ownerReferences?: unknown[]; annotations?: Record<string, string>; uid: string };
  spec: { selector?: Record<string, string>; ports?: { name?: string; port: number }[] };
}

export async function service(n: string, name: string): Promise<ServiceObj | undefined> {
  const out = await kubectl(['-n', n, 'get', 'service', name, '--ignore-not-found', '-o', 'json']);
  return out.trim() ? (JSON.parse(out) as ServiceObj) : undefined;
}

export interface WorkloadObj {
  metadata: { uid: string; annotations?: Record<string, string> };
  spec: {
    replicas: number;
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        hostNetwork?: boolean;
        containers: { ports?: { containerPort: number; hostPort?: number }[] }[];
        volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[];
      };
    };
  };
}

export async function standby(n: string): Promise<WorkloadObj | undefined> {
  const out = await kubectl(['-n', n, 'get', 'statefulset', 'db-standby', '--ignore-not-found', '-o', 'json']);
  return out.trim() ? (JSON.parse(out) as WorkloadObj) : undefined;
}

export const claimOf = (w: WorkloadObj | undefined) => w?.spec.template.spec.volumes?.find((v) => v.name === 'data')?.persistentVolumeClaim?.claimName;

/** Proves the garbage collector acted on a site's deletion: a canary the site owns is gone. */
export async function deleteSiteAndWaitForGc(n: string): Promise<void> {
  const owner = await getSite(n, 'db');
  await apply(
    `apiVersion: v1
kind: ConfigMap
metadata:
  name: canary
  ownerReferences: [{apiVersion: standby.dev/v1alpha1, kind: StandbySite, name: db, uid: ${owner.metadata.uid}}]
`,
    n,
  );
  await kubectl(['-n', n, 'delete', 'standbysite', 'db', '--wait=true']);
  await waitFor(async () => (await kubectl(['-n', n, 'get', 'configmap', 'canary', '--ignore-not-found'])) === '', {
    timeoutMs: 30_000,
    description: 'the garbage collector to remove what the site owned',
  });
}

/** Triggers a reconcile of the site (an annotation change). */
export async function poke(n: string, value: string): Promise<void> {
  await kubectl(['-n', n, 'annotate', 'standbysite', 'db', `e2e/poke=${value}`, '--overwrite']);
}
