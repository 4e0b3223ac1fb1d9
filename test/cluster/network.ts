// The multi-site harness's network: one network namespace per site, each joined by a veth pair
// to a bridge in the root namespace (where the test runner lives), and an nftables table on that
// bridge that drops what a partition cuts. Everything is named from one prefix, so several
// harnesses (work trees, vitest runs) can exist side by side on one machine.
//
//   root namespace:  bridge <prefix>-br  10.213.N.1/24   (the runner's address)
//                      ├─ <prefix>-h0  ── veth ──  wan0 10.213.N.10  in netns <prefix>-<site 0>
//                      ├─ <prefix>-h1  ── veth ──  wan0 10.213.N.11  in netns <prefix>-<site 1>
//                      └─ ...
//
// A cut drops IP frames (ARP still passes, as it would on a WAN whose routers are up), so a
// TCP connection across it hangs the way it does on a real partition, and healing needs no
// ARP timeout. The rule set is rendered from the list of cuts (pure, below) and loaded in one
// nft transaction, so the table always says exactly what the state file says.
import { readFile } from 'node:fs/promises';
import { ClusterError, isNotFound, run, type RunResult } from './common.ts';

/** A directional cut: frames from `from` to `to` are dropped. `runner` is the root namespace. */
export interface Cut {
  from: string;
  to: string;
}

export const RUNNER = 'runner';

export interface SiteLink {
  site: string;
  /** The root-namespace end of the site's veth pair (a bridge port). */
  hostVeth: string;
}

/** nft script that replaces the harness's table with one that drops every cut. */
export function renderRuleset(table: string, links: readonly SiteLink[], cuts: readonly Cut[]): string {
  const port = (site: string): string => {
    const link = links.find((l) => l.site === site);
    if (!link) throw new ClusterError(`no site named "${site}" (sites: ${links.map((l) => l.site).join(', ')})`);
    return link.hostVeth;
  };
  const ipOnly = 'ether type { ip, ip6 } drop';
  const forward: string[] = [];
  const input: string[] = [];
  const output: string[] = [];
  for (const c of dedupe(cuts)) {
    if (c.from === RUNNER && c.to === RUNNER) continue;
    if (c.from === RUNNER) output.push(`oifname "${port(c.to)}" ${ipOnly}`);
    else if (c.to === RUNNER) input.push(`iifname "${port(c.from)}" ${ipOnly}`);
    else forward.push(`iifname "${port(c.from)}" oifname "${port(c.to)}" ${ipOnly}`);
  }
  const chain = (name: string, rules: string[]): string[] => [
    `  chain ${name} {`,
    `    type filter hook ${name} priority 0; policy accept;`,
    ...rules.map((r) => `    ${r}`),
    '  }',
  ];
  return [
    // Declaring then deleting makes the load work whether or not the table exists, in one transaction.
    `table bridge ${table}`,
    `delete table bridge ${table}`,
    `table bridge ${table} {`,
    ...chain('forward', forward),
    ...chain('input', input),
    ...chain('output', output),
    '}',
    '',
  ].join('\n');
}

export function dedupe(cuts: readonly Cut[]): Cut[] {
  const seen = new Set<string>();
  return cuts.filter((c) => {
    const key = `${c.from}\0${c.to}`;
    if (c.from === c.to || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Both directions between two sites. */
export function cutBetween(a: string, b: string): Cut[] {
  return [{ from: a, to: b }, { from: b, to: a }];
}

/** Every direction between `site` and the other sites (and the runner too, if asked). */
export function isolateCuts(site: string, others: readonly string[], includingRunner: boolean): Cut[] {
  const peers = [...others.filter((o) => o !== site), ...(includingRunner ? [RUNNER] : [])];
  return peers.flatMap((p) => cutBetween(site, p));
}

/** The cuts left after healing the link between `a` and `b` (both directions). */
export function healBetween(cuts: readonly Cut[], a: string, b: string): Cut[] {
  return cuts.filter((c) => !((c.from === a && c.to === b) || (c.from === b && c.to === a)));
}

// ---------------------------------------------------------------------------------------------
// I/O

/** Runs a network tool, turning "not installed" into a line that says which package to install. */
async function tool(cmd: string, args: readonly string[], input?: string): Promise<RunResult> {
  try {
    return await run(cmd, args, { input, timeoutMs: 30_000 });
  } catch (err) {
    if (isNotFound(err)) {
      const pkg = cmd === 'nft' ? 'nftables' : 'iproute2';
      throw new ClusterError(`\`${cmd}\` is not on PATH: the multi-site harness needs it (apt-get install ${pkg})`);
    }
    throw err;
  }
}

/** Runs a command that must succeed; a failure becomes one line naming the command. */
export async function must(cmd: string, args: readonly string[], input?: string): Promise<string> {
  const res = await tool(cmd, args, input);
  if (res.code !== 0) throw new ClusterError(`\`${cmd} ${args.join(' ')}\` failed: ${(res.stderr.trim() || res.stdout.trim()).split('\n').pop() ?? ''}`);
  return res.stdout;
}

/**
 * Why this process cannot build network namespaces, or undefined when it can: root, `ip netns`
 * and `nft` are needed. Checked by creating (and removing) a throw-away namespace.
 */
export async function netnsUnavailable(): Promise<string | undefined> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'the multi-site harness needs root (network namespaces, veth pairs, nftables); run it as root, as CI does';
  }
  const probe = `sbprobe-${process.pid}`;
  try {
    const add = await tool('ip', ['netns', 'add', probe]);
    if (add.code !== 0) return `cannot create a network namespace (\`ip netns add\`: ${add.stderr.trim()}); the multi-site harness needs CAP_SYS_ADMIN and a kernel with network namespaces`;
    await tool('ip', ['netns', 'del', probe]);
    const nft = await tool('nft', ['list', 'tables']);
    if (nft.code !== 0) return `nftables does not work here (\`nft list tables\`: ${nft.stderr.trim()}); the harness cuts links with it`;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  return undefined;
}

/** Addresses in use in 10.213.0.0/16 by any interface of the root namespace (other harnesses). */
async function usedThirdOctets(): Promise<Set<number>> {
  const out = await must('ip', ['-4', '-o', 'addr', 'show']);
  const used = new Set<number>();
  for (const m of out.matchAll(/inet 10\.213\.(\d+)\./g)) used.add(Number(m[1]));
  return used;
}

/** A /24 in 10.213.0.0/16 that no interface uses, starting from a number derived from the prefix. */
export async function pickSubnet(seed: number): Promise<number> {
  const used = await usedThirdOctets();
  for (let i = 0; i < 250; i++) {
    const n = 1 + ((seed + i) % 250);
    if (!used.has(n)) return n;
  }
  throw new ClusterError('every 10.213.N.0/24 subnet is in use by other harnesses: run `npm run cluster:down` in the other work trees');
}

export interface NetworkPlan {
  bridge: string;
  table: string;
  /** Third octet of 10.213.N.0/24. */
  subnet: number;
  sites: { site: string; netns: string; hostVeth: string; address: string }[];
}

export function runnerAddress(plan: Pick<NetworkPlan, 'subnet'>): string {
  return `10.213.${plan.subnet}.1`;
}

/** Creates the bridge, one namespace per site and their veth pairs, and an empty cut table. */
export async function createNetwork(plan: NetworkPlan): Promise<void> {
  const range = await siteEphemeralPorts();
  await must('ip', ['link', 'add', plan.bridge, 'type', 'bridge']);
  await must('ip', ['addr', 'add', `${runnerAddress(plan)}/24`, 'dev', plan.bridge]);
  await must('ip', ['link', 'set', plan.bridge, 'up']);
  for (const s of plan.sites) {
    await must('ip', ['netns', 'add', s.netns]);
    await must('ip', ['-n', s.netns, 'link', 'set', 'lo', 'up']);
    await must('ip', ['link', 'add', s.hostVeth, 'type', 'veth', 'peer', 'name', 'wan0', 'netns', s.netns]);
    await must('ip', ['link', 'set', s.hostVeth, 'master', plan.bridge, 'up']);
    await must('ip', ['-n', s.netns, 'addr', 'add', `${s.address}/24`, 'dev', 'wan0']);
    await must('ip', ['-n', s.netns, 'link', 'set', 'wan0', 'up']);
    await must('ip', ['netns', 'exec', s.netns, 'sh', '-c', `echo '${range.join(' ')}' > /proc/sys/net/ipv4/ip_local_port_range`]);
  }
  await applyCuts(plan, []);
}

/**
 * Ports a site's listeners get are picked free in the runner's namespace (`freePort`), which
 * knows nothing of the site's own sockets: a connection the site's API server opened to its etcd
 * could hold the very port a PostgreSQL server or an etcd is then told to listen on ("address
 * already in use", seen in CI). Each site's own outgoing connections therefore take their local
 * ports from a range below the runner's, which no picked port can fall in.
 */
export async function siteEphemeralPorts(): Promise<[number, number]> {
  const text = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '32768 60999');
  const [low] = text.trim().split(/\s+/).map(Number);
  const top = (low !== undefined && Number.isInteger(low) && low > 4096 ? low : 32768) - 1;
  // An even start and an odd end: the kernel wants them of different parity.
  const bottom = Math.max(1024, top - 16383) & ~1;
  return [bottom, top | 1];
}

export async function applyCuts(plan: NetworkPlan, cuts: readonly Cut[]): Promise<void> {
  await must('nft', ['-f', '-'], renderRuleset(plan.table, plan.sites.map((s) => ({ site: s.site, hostVeth: s.hostVeth })), cuts));
}

/** pids of every process in a namespace (`ip netns pids`). */
export async function netnsPids(netns: string): Promise<number[]> {
  const res = await tool('ip', ['netns', 'pids', netns]);
  if (res.code !== 0) return [];
  return res.stdout.split(/\s+/).filter((p) => p !== '').map(Number);
}

export async function netnsExists(netns: string): Promise<boolean> {
  const out = await must('ip', ['netns', 'list']);
  return out.split('\n').some((l) => l.split(' ')[0] === netns);
}

/** Removes the cut table, the namespaces (and with them the veth pairs) and the bridge; ignores what is gone. */
export async function removeNetwork(plan: NetworkPlan): Promise<void> {
  await tool('nft', ['delete', 'table', 'bridge', plan.table]);
  for (const s of plan.sites) await tool('ip', ['netns', 'del', s.netns]);
  // A namespace something still refers to outlives `netns del`, and its veth pair with it (seen
  // after a Ctrl-C of the demo): deleting the host's end removes the pair either way.
  for (const s of plan.sites) await tool('ip', ['link', 'del', s.hostVeth]);
  await tool('ip', ['link', 'del', plan.bridge]);
}

/**
 * Whether `tc netem` works on this kernel, found by adding it to a site's interface and
 * removing it again; the reason when it does not (e.g. CONFIG_NET_SCH_NETEM not built).
 */
export async function netemUnavailable(netns: string): Promise<string | undefined> {
  const add = await tool('ip', ['netns', 'exec', netns, 'tc', 'qdisc', 'add', 'dev', 'wan0', 'root', 'netem', 'delay', '1ms']);
  if (add.code !== 0) return `tc netem is not available on this kernel (\`tc qdisc add dev wan0 root netem\`: ${add.stderr.trim().split('\n')[0] ?? ''})`;
  await tool('ip', ['netns', 'exec', netns, 'tc', 'qdisc', 'del', 'dev', 'wan0', 'root']);
  return undefined;
}

/**
 * Emulated WAN latency: every site delays what it sends by `delayMs` (netem on its wan0), so
 * one way between two sites takes `delayMs` more and a round trip `2 * delayMs`; 0 removes it.
 */
export async function setLatency(plan: NetworkPlan, delayMs: number): Promise<void> {
  for (const s of plan.sites) {
    if (delayMs === 0) {
      await tool('ip', ['netns', 'exec', s.netns, 'tc', 'qdisc', 'del', 'dev', 'wan0', 'root']);
      continue;
    }
    await must('ip', ['netns', 'exec', s.netns, 'tc', 'qdisc', 'replace', 'dev', 'wan0', 'root', 'netem', 'delay', `${delayMs}ms`]);
  }
}
