// The partition suite's stand-in for a CNI and a traffic path. The sites' kwok nodes run no pods,
// so nothing would enforce a fence: this loop does, from what the operators wrote. A site's
// PostgreSQL server (a real one, in the site's network namespace) accepts the clients' writes
// only while the site may serve: the primary's while no fence of this site (the standby
// operator's <site>-fence or the guard's <site>-self-fence) exists in the primary's cluster; the
// standby's once the StandbySite says the standby is active. "Accepts" is enforced for real, by
// an nftables rule in the site's namespace that drops every packet to the server's port, so
// sessions already open stop too, as a NetworkPolicy enforced by a CNI stops them.
//
// Its delay (one poll and one nft call, about 0.2 s) is part of what the timing rule calls
// fenceWithin, which the trials set well above it.
import { KubeClient } from '../../../src/k8s/client.ts';
import { loadConnection } from '../../../src/k8s/connection.ts';
import { R } from '../../../src/k8s/resources.ts';
import type { KubeObject } from '../../../src/k8s/types.ts';
import { runInSite, type SiteRecord } from '../../cluster/sites.ts';

const SITE_RESOURCE = { group: 'standby.dev', version: 'v1alpha1', plural: 'standbysites', kind: 'StandbySite', namespaced: true } as const;

export interface Gate {
  site: SiteRecord;
  port: number;
  /** Whether this site may serve now, from its own cluster's objects. */
  open: () => Promise<boolean>;
}

/** nft table name per port, so gates of several servers in one namespace do not meet. */
const table = (port: number) => `standby_gate_${port}`;

async function setGate(site: SiteRecord, port: number, open: boolean): Promise<void> {
  const script = open
    ? `delete table inet ${table(port)}\n`
    : `table inet ${table(port)} {\n  chain input {\n    type filter hook input priority -10; policy accept;\n    tcp dport ${port} drop\n  }\n}\n`;
  // Deleting a table that is not there fails: read the state first.
  const list = await runInSite(site, 'nft', ['list', 'tables']);
  const present = list.stdout.includes(`inet ${table(port)}`);
  if (open === !present) return;
  const r = await runInSite(site, 'nft', ['-f', '-'], { input: script });
  if (r.code !== 0) throw new Error(`nft in ${site.name}: ${r.stderr}`);
}

export async function clientFor(site: SiteRecord): Promise<KubeClient> {
  return new KubeClient(await loadConnection(site.kubeconfig));
}

/** The primary may serve while no fence of the site stands in its namespace. */
export function primaryGate(site: SiteRecord, client: KubeClient, namespace: string, siteName: string, port: number): Gate {
  const fences = new Set([`${siteName}-fence`, `${siteName}-self-fence`]);
  return {
    site,
    port,
    open: async () => {
      const list = await client.list<KubeObject>(R.networkPolicy, namespace);
      return !list.items.some((np) => fences.has(np.metadata?.name ?? ''));
    },
  };
}

/** The standby may serve once its StandbySite says it is active. */
export function standbyGate(site: SiteRecord, client: KubeClient, namespace: string, siteName: string, port: number): Gate {
  return {
    site,
    port,
    open: async () => {
      const s = await client.get<KubeObject & { status?: { active?: string } }>(SITE_RESOURCE, namespace, siteName);
      return s?.status?.active === 'standby';
    },
  };
}

export interface Enforcer {
  stop(): Promise<void>;
  /** Every change of a gate, for the trial's report. */
  changes: { site: string; open: boolean; at: number }[];
}

/**
 * Polls every gate every `intervalMs` and sets its rule. A gate whose cluster does not answer
 * keeps its last state: a CNI keeps enforcing the policies it has when its API server is gone.
 */
export async function enforce(gates: readonly Gate[], intervalMs = 100): Promise<Enforcer> {
  let stopped = false;
  const changes: Enforcer['changes'] = [];
  const state = new Map<Gate, boolean>();
  // Closed before this returns: a writer started next must not get in before the first poll.
  for (const g of gates) {
    await setGate(g.site, g.port, false);
    state.set(g, false);
  }
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(
        gates.map(async (g) => {
          const open = await g.open().catch(() => undefined);
          if (open === undefined || open === state.get(g)) return;
          await setGate(g.site, g.port, open).catch(() => undefined);
          state.set(g, open);
          changes.push({ site: g.site.name, open, at: performance.now() });
        }),
      );
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    changes,
    async stop() {
      stopped = true;
      await loop;
      for (const g of gates) await setGate(g.site, g.port, true).catch(() => undefined);
    },
  };
}
