// Set-up shared by the sites tests of the guard and the fence keeper: the primary's workload and
// both operators and the primary site's fence keeper as processes in their sites' network
// namespaces (as the chart's ServiceAccounts), the witness Secret in both sites, the remote Secret
// in the standby's, and a witness namespace of the test's own (the only lease there is its).
import { readFileSync } from 'node:fs';
import { useSites } from '../cluster/site-helpers.ts';
import { heal, site, type SiteRecord } from '../cluster/sites.ts';
import { automaticSiteYaml, SHORT_WITNESS_TIMING } from '../cluster/site-manifest.ts';
import { apply, installCrd, kubectl, kubectlJson, operatorIdentity, remoteAccess, startKeeperIn, startOperatorIn, statefulPrimary, type SiteOperator } from './support.ts';

/** What the tests read of the StandbySiteGuard `orders` in the primary's cluster. */
export interface GuardView {
  metadata: { uid: string };
  status?: { conditions?: { type: string; status: string; reason: string }[]; lease?: { holder: string; epoch: number; renewedAt?: string }; fenced?: { reason: string } };
}
/** What the tests read of the guard's self-fence NetworkPolicy. */
export interface FenceView {
  metadata: { name: string; uid: string; annotations?: Record<string, string>; ownerReferences?: { kind: string; uid: string }[] };
}
/** What the tests read of the witness's Lease. */
export interface LeaseView {
  metadata: { annotations?: Record<string, string> };
  spec: { holderIdentity: string; renewTime?: string };
}

export interface GuardedPair {
  primary: SiteRecord;
  standby: SiteRecord;
  witness: SiteRecord;
  /** Undefined once a test killed it and did not restart it. */
  opPrimary: SiteOperator | undefined;
  opStandby: SiteOperator | undefined;
  keeper: SiteOperator | undefined;
  /** The StandbySite to apply in the standby's site: automatic site failover, short timing, one takeover. */
  manifest: string;
  guard(): Promise<GuardView>;
  /** The guard's self-fence, if there is one. */
  fence(): Promise<FenceView | undefined>;
  /** The leases in the test's witness namespace. */
  leases(): Promise<LeaseView[]>;
  /** A new primary operator (after a kill), as the chart's ServiceAccount. */
  restartPrimaryOperator(): Promise<void>;
  /** Heals every cut, stops the processes, deletes the site and the namespaces. */
  tearDown(dir: string): Promise<void>;
}

/** The StatefulSet `orders` in `ns` of the primary's site, guarded from the standby's. */
export async function startGuardedPair(ns: string, witnessNs: string): Promise<GuardedPair> {
  const state = await useSites();
  const primary = site(state, 'primary');
  const standby = site(state, 'standby');
  const witness = site(state, 'witness');
  for (const s of [primary, standby]) await installCrd(s);
  const idPrimary = await operatorIdentity(primary);
  const idStandby = await operatorIdentity(standby);
  const access = await remoteAccess(primary, [ns]);
  await kubectl(witness, ['create', 'namespace', witnessNs]);
  await kubectl(standby, ['create', 'namespace', ns]);
  const witnessKubeconfig = readFileSync(witness.kubeconfig, 'utf8');
  for (const s of [primary, standby]) {
    await apply(s, JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'witness' }, stringData: { kubeconfig: witnessKubeconfig } }), ns);
  }
  await apply(standby, JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'primary-cluster' }, stringData: { kubeconfig: access.kubeconfig } }), ns);
  await apply(primary, statefulPrimary('orders'), ns);
  const pair: GuardedPair = {
    primary,
    standby,
    witness,
    opPrimary: await startOperatorIn(primary, idPrimary, [ns]),
    keeper: await startKeeperIn(primary, idPrimary, [ns]),
    opStandby: await startOperatorIn(standby, idStandby, [ns]),
    manifest: automaticSiteYaml({ timing: SHORT_WITNESS_TIMING, witnessNamespace: witnessNs, onePromotion: true }),
    guard: () => kubectlJson<GuardView>(primary, ['-n', ns, 'get', 'standbysiteguard', 'orders']),
    fence: async () => (await kubectlJson<{ items: FenceView[] }>(primary, ['-n', ns, 'get', 'networkpolicies'])).items.find((p) => p.metadata.name === 'orders-self-fence'),
    leases: async () => (await kubectlJson<{ items: LeaseView[] }>(witness, ['-n', witnessNs, 'get', 'leases'])).items,
    async restartPrimaryOperator() {
      pair.opPrimary = await startOperatorIn(primary, await operatorIdentity(primary), [ns]);
    },
    async tearDown(dir: string) {
      await heal(dir).catch(() => undefined);
      await pair.opPrimary?.stop();
      await pair.keeper?.stop();
      await pair.opStandby?.stop();
      await kubectl(standby, ['-n', ns, 'delete', 'standbysite', 'orders', '--wait=false']).catch(() => '');
      for (const s of [primary, standby]) await kubectl(s, ['delete', 'namespace', ns, '--wait=false']).catch(() => '');
      await kubectl(witness, ['delete', 'namespace', witnessNs, '--wait=false']).catch(() => '');
    },
  };
  return pair;
}
