// For the cross-site tests: test/cluster/site-ops.ts bound to the kubectl and helm of this vitest
// run (the sites project's globalSetup builds them).
import { inject } from 'vitest';
import type { SiteStatus } from '../../src/api/status.ts';
import { type RunResult } from '../cluster/common.ts';
import * as ops from '../cluster/site-ops.ts';
import type { SiteRecord } from '../cluster/sites.ts';
import { waitFor } from '../cluster/wait.ts';

export type { ChartObject, Identity, SiteOperator } from '../cluster/site-ops.ts';
export { statefulPrimary } from '../cluster/site-ops.ts';

const tools = (): ops.Tools => ({ kubectl: inject('sitesKubectl'), helm: inject('sitesHelm') });

/** kubectl against one site's API server (from the runner); rejects with stderr on failure. */
export function kubectl(s: SiteRecord, args: readonly string[], input?: string): Promise<string> {
  return ops.siteKubectl(tools(), s, args, input);
}

export async function kubectlJson<T>(s: SiteRecord, args: readonly string[]): Promise<T> {
  return JSON.parse(await kubectl(s, [...args, '-o', 'json'])) as T;
}

export function apply(s: SiteRecord, manifest: string, namespace?: string): Promise<string> {
  return kubectl(s, [...(namespace ? ['-n', namespace] : []), 'apply', '-f', '-'], manifest);
}

export function renderChart(release: string, namespace: string, args: readonly string[] = []): Promise<ops.ChartObject[]> {
  return ops.renderChart(tools(), release, namespace, args);
}

export function installCrd(s: SiteRecord): Promise<void> {
  return ops.installSiteCrd(tools(), s);
}

/** The chart's operator ServiceAccount and RBAC in a site (all namespaces), for impersonation. */
export function operatorIdentity(s: SiteRecord): Promise<ops.Identity> {
  return ops.installOperatorIdentity(tools(), s);
}

/** The chart's remoteAccess in the primary's cluster and the kubeconfig for the Secret (site-ops.ts). */
export function remoteAccess(primary: SiteRecord, namespaces: readonly string[], o: { externalDNS?: boolean } = {}): Promise<{ kubeconfig: string; docs: ops.ChartObject[] }> {
  return ops.installRemoteAccess(tools(), primary, namespaces, o);
}

/** `standby-operator fence-keeper` inside a site's network namespace, as the chart's fenceKeeper ServiceAccount there. */
export function startKeeperIn(s: SiteRecord, identity: ops.Identity, namespaces: readonly string[], env: Record<string, string> = {}): Promise<ops.SiteOperator> {
  return ops.startSiteKeeper(s, identity, namespaces, { env });
}

/** `standby-operator run` inside a site's network namespace, as the chart's ServiceAccount there. */
export function startOperatorIn(s: SiteRecord, identity: ops.Identity, namespaces: readonly string[], env: Record<string, string> = {}): Promise<ops.SiteOperator> {
  return ops.startSiteOperator(s, identity, namespaces, { env });
}

export interface SiteObject {
  metadata: { name: string; namespace: string; generation: number; annotations?: Record<string, string> };
  status?: SiteStatus;
}

export function condition(site: SiteObject | undefined, type: string) {
  return site?.status?.conditions?.find((c) => c.type === type);
}

/** Waits until the StandbySite's status satisfies `ok`. */
export async function waitForSite(s: SiteRecord, ns: string, name: string, ok: (x: SiteObject) => boolean, description: string, timeoutMs = 90_000): Promise<SiteObject> {
  let last: SiteObject | undefined;
  try {
    return await waitFor(
      async () => {
        last = await kubectlJson<SiteObject>(s, ['-n', ns, 'get', 'standbysite', name]);
        return ok(last) ? last : undefined;
      },
      { timeoutMs, intervalMs: 500, description },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last status: ${JSON.stringify(last?.status)}`, { cause: err });
  }
}

/** Events of an object (reason: message), oldest first. */
export async function eventsOf(s: SiteRecord, ns: string, name: string): Promise<{ reason: string; message: string }[]> {
  const list = await kubectlJson<{ items: { reason: string; message: string; involvedObject: { name: string } }[] }>(s, ['-n', ns, 'get', 'events']);
  return list.items.filter((e) => e.involvedObject.name === name).map((e) => ({ reason: e.reason, message: e.message }));
}

export type { RunResult };
