// Site loss (issue #16): every process of the primary's site stops, and the standby's site takes
// over within leaseDuration + acquireAfter + 5 s. On the multi-site harness (test/cluster/sites.ts:
// one network namespace and control plane per site): the primary's operator (its guard renews the
// witness's lease) and the standby's, R StandbySites in automatic siteFailover mode, one per
// namespace, each with its own lease on the witness.
//
// One loss, R takeovers: a site loss stops the whole primary control plane, so a repetition per
// loss would restart three control planes and both operators each time (minutes apiece on this
// shared machine). Instead R sites are lost at once and each one's takeover is measured: R
// independent leases, renewals and watchers, on one shared clock. This is the harder case for the
// standby's operator (R takeovers in the same seconds), not an easier one.
//
// Per site: the last renewal the witness saw (a watch on its Leases, from the runner; the lease's
// renewTime as written), the takeover (holder changes to standby:<uid>, the watch event's time and
// the acquireTime written) and the standby site's Promoted time (status.promotion.completedAt).
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient } from '../src/k8s/client.ts';
import { connectionFromKubeconfig } from '../src/k8s/connection.ts';
import { R } from '../src/k8s/resources.ts';
import { buildBinaries } from '../test/cluster/build.ts';
import { netnsUnavailable } from '../test/cluster/network.ts';
import {
  installOperatorIdentity,
  installRemoteAccess,
  installSiteCrd,
  siteKubectl,
  startSiteOperator,
  statefulPrimary,
  type SiteOperator,
  type Tools,
} from '../test/cluster/site-ops.ts';
import { automaticSiteYaml, SHORT_WITNESS_TIMING, type WitnessTimingText } from '../test/cluster/site-manifest.ts';
import { site, startSites, stopSite, teardownSites, type SiteRecord } from '../test/cluster/sites.ts';
import { waitFor } from '../test/cluster/wait.ts';
import { log } from './common.ts';

/** promotion.siteFailover's timing as the manifest writes it (test/cluster/site-manifest.ts). */
export type SiteLossTiming = WitnessTimingText;

/** The partition suite's short timing (test/sites/partitions.test.ts). */
export const SHORT_TIMING: SiteLossTiming = SHORT_WITNESS_TIMING;
/** The defaults of promotion.siteFailover. */
export const DEFAULT_TIMING: SiteLossTiming = { leaseDuration: '30s', renewInterval: '10s', requestTimeout: '5s', safetyMargin: '5s', acquireAfter: '30s', fenceWithin: '10s' };

const seconds = (d: string): number => (d.endsWith('ms') ? Number(d.slice(0, -2)) / 1000 : Number(d.slice(0, -1)));

export interface SiteLossRow {
  namespace: string;
  lastRenewalSeen: string | undefined;
  takeoverSeen: string | undefined;
  promoted: string | undefined;
  /** takeover − last renewal, both as the runner's watch saw them. */
  takeoverAfterRenewalSeconds: number | undefined;
  /** The same from what the two sides wrote on the lease (renewTime, acquireTime; one host clock). */
  acquireAfterRenewTimeSeconds: number | undefined;
  promotedAfterRenewalSeconds: number | undefined;
}

export interface SiteLossResult {
  sites: number;
  timing: SiteLossTiming;
  failureThreshold: string;
  boundSeconds: number;
  rows: SiteLossRow[];
  figures: { n: number; p50: number; p99: number; max: number; min: number } | undefined;
  promotedFigures: { p50: number; p99: number; max: number } | undefined;
  taken: number;
  targetMet: boolean;
  error?: string;
}

function quantile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

function siteYaml(t: SiteLossTiming): string {
  return automaticSiteYaml({ timing: t, witnessNamespace: 'standby-witness' });
}

interface Lease {
  metadata?: { name?: string; resourceVersion?: string };
  spec?: { holderIdentity?: string; renewTime?: string; acquireTime?: string };
}

/** Why the site-loss bench cannot run here (not root, no network namespaces), or undefined. */
export function siteLossUnavailable(): Promise<string | undefined> {
  return netnsUnavailable();
}

export async function measureSiteLoss(o: { sites: number; timing: SiteLossTiming }): Promise<SiteLossResult> {
  const t = o.timing;
  const boundSeconds = seconds(t.leaseDuration) + seconds(t.acquireAfter) + 5;
  const base: SiteLossResult = { sites: o.sites, timing: t, failureThreshold: '2s', boundSeconds, rows: [], figures: undefined, promotedFigures: undefined, taken: 0, targetMet: false };
  const { bin } = await buildBinaries();
  const tools: Tools = { kubectl: bin.kubectl, helm: bin.helm };
  const dir = await mkdtemp(join(tmpdir(), 'bench-site-loss-'));
  const operators: SiteOperator[] = [];
  const watch = new AbortController();
  try {
    log(`site loss: starting primary, standby and witness in ${dir}`);
    const state = await startSites({ stateDir: dir, owner: 'bench', sites: [{ name: 'primary', profile: 'full' }, { name: 'standby', profile: 'full' }, { name: 'witness', profile: 'api' }] });
    const primary = site(state, 'primary');
    const standby = site(state, 'standby');
    const witness = site(state, 'witness');
    const k = (s: SiteRecord, args: readonly string[], input?: string) => siteKubectl(tools, s, args, input);
    const namespaces = Array.from({ length: o.sites }, (_, i) => `loss${i}`);
    for (const s of [primary, standby]) await installSiteCrd(tools, s);
    const idPrimary = await installOperatorIdentity(tools, primary);
    const idStandby = await installOperatorIdentity(tools, standby);
    const access = await installRemoteAccess(tools, primary, namespaces);
    const witnessKubeconfig = await readFile(witness.kubeconfig, 'utf8');
    await k(witness, ['create', 'namespace', 'standby-witness']);
    for (const ns of namespaces) {
      await k(standby, ['create', 'namespace', ns]);
      for (const s of [primary, standby]) {
        await k(s, ['-n', ns, 'apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'witness' }, stringData: { kubeconfig: witnessKubeconfig } }));
      }
      await k(standby, ['-n', ns, 'apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'primary-cluster' }, stringData: { kubeconfig: access.kubeconfig } }));
      await k(primary, ['-n', ns, 'apply', '-f', '-'], statefulPrimary('orders'));
    }
    operators.push(await startSiteOperator(primary, idPrimary, namespaces));
    operators.push(await startSiteOperator(standby, idStandby, namespaces));
    for (const ns of namespaces) await k(standby, ['-n', ns, 'apply', '-f', '-'], siteYaml(t));

    // The runner's watch on the witness's Leases: every renewal and the takeover, as seen.
    const wc = new KubeClient(await connectionFromKubeconfig(witnessKubeconfig, { origin: 'the witness site', path: witness.kubeconfig }));
    const leaseOf = (ns: string) => `standby-${ns}-orders`;
    const seen = new Map<string, { lastRenewalSeen?: number; lastRenewTime?: string; takeoverSeen?: number; acquireTime?: string; renewals: number }>();
    for (const ns of namespaces) seen.set(leaseOf(ns), { renewals: 0 });
    const onLease = (l: Lease) => {
      const s = seen.get(l.metadata?.name ?? '');
      if (!s) return;
      const holder = l.spec?.holderIdentity ?? '';
      if (holder.startsWith('primary:')) {
        if (l.spec?.renewTime !== s.lastRenewTime) s.renewals++;
        s.lastRenewalSeen = Date.now();
        s.lastRenewTime = l.spec?.renewTime;
      } else if (holder.startsWith('standby:') && s.takeoverSeen === undefined) {
        s.takeoverSeen = Date.now();
        s.acquireTime = l.spec?.acquireTime;
      }
    };
    const watching = (async () => {
      while (!watch.signal.aborted) {
        try {
          const list = await wc.list<Lease>(R.lease, 'standby-witness');
          for (const l of list.items) onLease(l);
          await wc.watch<Lease>(R.lease, 'standby-witness', { resourceVersion: list.resourceVersion, signal: watch.signal }, (e) => {
            if (e.type === 'ADDED' || e.type === 'MODIFIED') onLease(e.object);
          });
        } catch {
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    })();

    // Every site Protected and its lease renewed by the primary's guard a few times.
    const protectedAll = async () => {
      const list = JSON.parse(await k(standby, ['get', 'standbysites', '-A', '-o', 'json'])) as { items: { status?: { phase?: string } }[] };
      return list.items.length === o.sites && list.items.every((x) => x.status?.phase === 'Protected');
    };
    await waitFor(protectedAll, { timeoutMs: 600_000, intervalMs: 2_000, description: 'every site Protected' });
    await waitFor(() => [...seen.values()].every((s) => s.renewals >= 3), { timeoutMs: 300_000, intervalMs: 500, description: "every lease renewed 3 times by the primary's guard" });

    log(`site loss: stopping every process of the primary's site (${o.sites} sites, timing ${JSON.stringify(t)})`);
    await stopSite(dir, 'primary');
    await waitFor(() => [...seen.values()].every((s) => s.takeoverSeen !== undefined), { timeoutMs: 600_000, intervalMs: 500, description: 'every lease taken over' }).catch(() => undefined);
    const promotedAt = new Map<string, string | undefined>();
    await waitFor(
      async () => {
        const list = JSON.parse(await k(standby, ['get', 'standbysites', '-A', '-o', 'json'])) as { items: { metadata: { namespace: string }; status?: { phase?: string; promotion?: { state?: string; completedAt?: string } } }[] };
        for (const x of list.items) if (x.status?.promotion?.state === 'Promoted') promotedAt.set(x.metadata.namespace, x.status.promotion.completedAt);
        return promotedAt.size === o.sites;
      },
      { timeoutMs: 300_000, intervalMs: 1_000, description: 'every site Promoted' },
    ).catch(() => undefined);
    watch.abort();
    await watching;

    const rows: SiteLossRow[] = namespaces.map((ns) => {
      const s = seen.get(leaseOf(ns))!;
      const promoted = promotedAt.get(ns);
      const diff = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? Math.round(a - b) / 1000 : undefined);
      return {
        namespace: ns,
        lastRenewalSeen: s.lastRenewalSeen !== undefined ? new Date(s.lastRenewalSeen).toISOString() : undefined,
        takeoverSeen: s.takeoverSeen !== undefined ? new Date(s.takeoverSeen).toISOString() : undefined,
        promoted,
        takeoverAfterRenewalSeconds: diff(s.takeoverSeen, s.lastRenewalSeen),
        acquireAfterRenewTimeSeconds: s.acquireTime && s.lastRenewTime ? diff(Date.parse(s.acquireTime), Date.parse(s.lastRenewTime)) : undefined,
        promotedAfterRenewalSeconds: diff(promoted ? Date.parse(promoted) : undefined, s.lastRenewalSeen),
      };
    });
    const xs = rows.flatMap((r) => (r.takeoverAfterRenewalSeconds !== undefined ? [r.takeoverAfterRenewalSeconds] : [])).sort((a, b) => a - b);
    const ps = rows.flatMap((r) => (r.promotedAfterRenewalSeconds !== undefined ? [r.promotedAfterRenewalSeconds] : [])).sort((a, b) => a - b);
    const figures = xs.length ? { n: xs.length, p50: quantile(xs, 0.5), p99: quantile(xs, 0.99), max: xs[xs.length - 1]!, min: xs[0]! } : undefined;
    return {
      ...base,
      rows,
      figures,
      promotedFigures: ps.length ? { p50: quantile(ps, 0.5), p99: quantile(ps, 0.99), max: ps[ps.length - 1]! } : undefined,
      taken: xs.length,
      targetMet: xs.length === o.sites && figures !== undefined && figures.max <= boundSeconds,
    };
  } catch (err) {
    return { ...base, error: err instanceof Error ? err.message : String(err) };
  } finally {
    watch.abort();
    for (const op of operators) await op.stop().catch(() => undefined);
    await teardownSites(dir).catch(() => undefined);
  }
}
