// Real nodes beside the kwok nodes (`npm run cluster:up -- --real-nodes 1`, the realpods
// vitest project): per node a containerd (Debian's, with runc) and a kubelet built from the
// wrapper module, CNI from Debian's containernetworking-plugins (bridge, host-local, loopback,
// portmap); for the cluster one kube-proxy (iptables), CoreDNS and kube-router's NetworkPolicy
// firewall. Everything runs on this machine as root, in the host's network namespace:
//
//   node i     bridge sbr<i> 10.88.<i>.1/24 (pods 10.88.<i>.2-254); kubelet on 10.88.<i>.1:10250
//   DNS        CoreDNS on 10.88.0.1:53 (the kubelet's clusterDNS)
//   API        kube-apiserver binds 0.0.0.0 and advertises 10.88.0.1, so the `kubernetes`
//              Service (10.96.0.1) reaches it from pods
//   cgroups    v1, cgroupfs driver, each kubelet under its own root /standby-<node>
//
// Only pods that tolerate the taint `standby.dev/real-node` land on a real node (label
// `standby.dev/node=real`); a namespace annotated with REAL_NAMESPACE_ANNOTATIONS gets that
// for every pod in it (the PodNodeSelector and PodTolerationRestriction admission plugins),
// so the Jobs the operator creates run there too.
//
// The host's iptables, routes and cgroups are shared, so one set of real nodes runs per
// machine at a time (a lock in /run/standby-operator). Traffic stays on the machine: what pods
// send is routed by a table that knows only the bridges, and the service range is routed to
// the bridge, not out of the machine.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeBinaries } from './build.ts';
import { ClusterError, isAlive, isNotFound, log, run, sleep, tail } from './common.ts';
import type { ImageSet } from './images/build.ts';

export const REAL_NODE_LABEL = 'standby.dev/node';
export const REAL_NODE_TAINT = 'standby.dev/real-node';
export const REAL_POD_CIDR = '10.88.0.0/16';
export const SERVICE_CIDR = '10.96.0.0/16';
const CLUSTER_DOMAIN = 'cluster.local';
/** Routing table (and rule priority) for traffic from pods. */
const ROUTE_TABLE = '188';
const LOCK_DIR = '/run/standby-operator';
const LOCK_FILE = join(LOCK_DIR, 'real-nodes.json');
const CNI_BIN = '/usr/lib/cni';
const KUBE_ROUTER_HEALTH_PORT = 20244;

/** Namespace annotations that put every pod of the namespace on the real nodes. */
export const REAL_NAMESPACE_ANNOTATIONS: Record<string, string> = {
  'scheduler.alpha.kubernetes.io/node-selector': `${REAL_NODE_LABEL}=real`,
  'scheduler.alpha.kubernetes.io/defaultTolerations': JSON.stringify([{ key: REAL_NODE_TAINT, operator: 'Exists', effect: 'NoSchedule' }]),
};

export function realNodeName(i: number): string {
  return `real-node-${i}`;
}

export function nodeNetwork(i: number): { bridge: string; subnet: string; gateway: string } {
  return { bridge: `sbr${i}`, subnet: `10.88.${i}.0/24`, gateway: `10.88.${i}.1` };
}

export const DNS_ADDRESS = nodeNetwork(0).gateway;

/** What the control plane records about its real nodes (state.json). */
export interface RealNodesState {
  count: number;
  nodes: string[];
  /** Per node: its containerd socket (for `ctr`, e.g. to kill a container in a test). */
  containerd: Record<string, string>;
  /** Pinned image references (`name@sha256:...`) imported into every node's containerd. */
  images: Record<keyof ImageSet, string>;
}

// -- commands -----------------------------------------------------------------------------------

async function must(cmd: string, args: string[], what: string): Promise<string> {
  let res;
  try {
    res = await run(cmd, args, { timeoutMs: 120_000 });
  } catch (err) {
    if (isNotFound(err)) throw new ClusterError(`\`${cmd}\` is not on PATH (${what}): install the real nodes' packages (see test/cluster/README.md, Real nodes)`);
    throw err;
  }
  if (res.code !== 0) throw new ClusterError(`${what} failed: ${cmd} ${args.join(' ')}: ${tail(res.stderr || res.stdout, 3)}`);
  return res.stdout;
}

/** Runs a command whose failure is expected when there is nothing to undo. */
async function maybe(cmd: string, args: string[]): Promise<void> {
  await run(cmd, args, { timeoutMs: 60_000 }).catch(() => undefined);
}

async function sysctl(key: string, value: string): Promise<void> {
  const path = `/proc/sys/${key.replaceAll('.', '/')}`;
  try {
    if ((await readFile(path, 'utf8')).trim() !== value) await writeFile(path, value);
  } catch (err) {
    throw new ClusterError(`cannot set ${key}=${value} (${err instanceof Error ? err.message : String(err)}): the real nodes need it`);
  }
}

/** One-line errors for what the real nodes need and this machine lacks. */
export async function checkRealNodePrerequisites(): Promise<void> {
  if (process.getuid?.() !== 0) throw new ClusterError('real nodes run containerd, the kubelet and iptables rules: run as root');
  const missing: string[] = [];
  for (const p of ['containerd', 'containerd-shim-runc-v2', 'runc', 'ctr', 'iptables', 'ipset', 'ip', 'mount', 'umount']) {
    const r = await run('sh', ['-c', `command -v ${p}`]);
    if (r.code !== 0) missing.push(p);
  }
  for (const plugin of ['bridge', 'host-local', 'loopback', 'portmap']) {
    if (!existsSync(join(CNI_BIN, plugin))) missing.push(`${CNI_BIN}/${plugin}`);
  }
  if (missing.length > 0) {
    throw new ClusterError(`real nodes need ${missing.join(', ')}: apt-get install containerd runc containernetworking-plugins iptables ipset conntrack (see test/cluster/README.md, Real nodes)`);
  }
  if (!existsSync('/sys/fs/cgroup/memory') || !existsSync('/sys/fs/cgroup/cpu')) {
    // This setup is written for the cgroup v1 hierarchy these machines have (see the README).
    throw new ClusterError('real nodes expect cgroup v1 hierarchies under /sys/fs/cgroup (memory, cpu, ...): this machine has none');
  }
}

// -- the machine-wide lock ----------------------------------------------------------------------

interface LockRecord { stateDir: string; pid: number; at: string }

/** Whether the control plane in stateDir still runs something (its state file names live processes). */
function stateAlive(stateDir: string): boolean {
  try {
    const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { processes?: { pid: number }[] };
    return (state.processes ?? []).some((p) => isAlive(p.pid));
  } catch {
    return false;
  }
}

/**
 * Takes the machine's real-node lock for stateDir. A lock whose control plane is gone is taken
 * over (after cleaning what it left); a live one is waited for up to waitMs, then refused.
 */
export async function lockRealNodes(stateDir: string, waitMs: number): Promise<void> {
  await mkdir(LOCK_DIR, { recursive: true });
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    let holder: LockRecord | undefined;
    try {
      holder = JSON.parse(await readFile(LOCK_FILE, 'utf8')) as LockRecord;
    } catch {
      holder = undefined;
    }
    // pid 0: handed over to a control plane whose starter exited (cluster:up); kill(0) would signal our own group.
    const live = holder !== undefined && holder.stateDir !== stateDir && ((holder.pid > 0 && isAlive(holder.pid)) || stateAlive(holder.stateDir));
    if (!live) {
      if (holder && holder.stateDir !== stateDir) {
        log(`real nodes: cleaning up after ${holder.stateDir}, whose control plane is gone`);
        await cleanupRealNodes(holder.stateDir, 8);
      }
      await writeFile(LOCK_FILE, JSON.stringify({ stateDir, pid: process.pid, at: new Date().toISOString() } satisfies LockRecord));
      return;
    }
    if (Date.now() > deadline) {
      throw new ClusterError(`real nodes run already for the control plane in ${holder?.stateDir ?? '?'} (one set per machine: they share its iptables and cgroups); stop it (npm run cluster:down in its work tree) or wait, then try again`);
    }
    if (!told) log(`real nodes: waiting for the control plane in ${holder?.stateDir ?? '?'} to stop (one set of real nodes per machine)`);
    told = true;
    await sleep(5_000);
  }
}

/** The lock stays with the control plane (whose starter may exit, as cluster:up does): record the state dir only. */
export async function handOverLock(stateDir: string): Promise<void> {
  await writeFile(LOCK_FILE, JSON.stringify({ stateDir, pid: 0, at: new Date().toISOString() } satisfies LockRecord)).catch(() => undefined);
}

async function unlockRealNodes(stateDir: string): Promise<void> {
  try {
    const holder = JSON.parse(await readFile(LOCK_FILE, 'utf8')) as LockRecord;
    if (holder.stateDir === stateDir) await rm(LOCK_FILE, { force: true });
  } catch {
    // no lock
  }
}

// -- host network -------------------------------------------------------------------------------

async function setUpHostNetwork(count: number): Promise<void> {
  await sysctl('net.ipv4.ip_forward', '1');
  await sysctl('net.bridge.bridge-nf-call-iptables', '1'); // Service traffic between pods of one bridge
  await maybe('ip', ['route', 'flush', 'table', ROUTE_TABLE]);
  for (let i = 0; i < count; i++) {
    const n = nodeNetwork(i);
    await maybe('ip', ['link', 'add', n.bridge, 'type', 'bridge']);
    await maybe('ip', ['addr', 'add', `${n.gateway}/24`, 'dev', n.bridge]);
    await must('ip', ['link', 'set', n.bridge, 'up'], `bringing up bridge ${n.bridge}`);
    await must('ip', ['route', 'replace', n.subnet, 'dev', n.bridge, 'table', ROUTE_TABLE], `routing ${n.subnet} for pods`);
  }
  // What pods send is routed by a table of its own that knows only the bridges: nothing a pod
  // sends leaves the machine (iptables could not promise that: the policy firewall's chains
  // accept packets ahead of any rule of ours).
  await must('ip', ['route', 'replace', 'unreachable', 'default', 'table', ROUTE_TABLE], 'routing pod traffic');
  // The host's own connections to Service addresses are routed again with their source (the
  // bridge's address) before kube-proxy rewrites them: this table must know the range too.
  await must('ip', ['route', 'replace', SERVICE_CIDR, 'dev', nodeNetwork(0).bridge, 'table', ROUTE_TABLE], 'routing the service range for pods');
  const rules = await must('ip', ['rule', 'list'], 'listing routing rules');
  if (!rules.includes(`from ${REAL_POD_CIDR} lookup ${ROUTE_TABLE}`)) {
    await must('ip', ['rule', 'add', 'from', REAL_POD_CIDR, 'lookup', ROUTE_TABLE, 'priority', ROUTE_TABLE], 'adding the pods\' routing rule');
  }
  // Pod addresses not on a bridge, and service addresses kube-proxy did not rewrite, go nowhere.
  await must('ip', ['route', 'replace', 'unreachable', REAL_POD_CIDR], 'routing the pod range');
  await must('ip', ['route', 'replace', SERVICE_CIDR, 'dev', nodeNetwork(0).bridge], 'routing the service range to the bridge');
}

async function tearDownHostNetwork(count: number): Promise<void> {
  await maybe('ip', ['rule', 'del', 'from', REAL_POD_CIDR, 'lookup', ROUTE_TABLE]);
  await maybe('ip', ['route', 'flush', 'table', ROUTE_TABLE]);
  await maybe('ip', ['route', 'del', SERVICE_CIDR]);
  await maybe('ip', ['route', 'del', 'unreachable', REAL_POD_CIDR]);
  for (let i = 0; i < count; i++) await maybe('ip', ['link', 'del', nodeNetwork(i).bridge]);
}

// -- cgroups ------------------------------------------------------------------------------------

function cgroupRoot(node: string): string {
  return `standby-${node}`;
}

async function hierarchies(): Promise<string[]> {
  const names = await readdir('/sys/fs/cgroup').catch(() => []);
  return names.filter((n) => n !== 'unified' && existsSync(join('/sys/fs/cgroup', n, 'cgroup.procs'))).map((n) => join('/sys/fs/cgroup', n));
}

/** The kubelet wants its cgroup root to exist in every hierarchy (cpuset: with cpus and mems). */
async function createCgroupRoot(node: string): Promise<void> {
  for (const h of await hierarchies()) {
    const dir = join(h, cgroupRoot(node));
    await mkdir(dir, { recursive: true });
    if (h.endsWith('/cpuset')) {
      for (const f of ['cpuset.cpus', 'cpuset.mems']) await writeFile(join(dir, f), await readFile(join(h, f), 'utf8'));
    }
  }
}

async function cgroupPids(dir: string): Promise<number[]> {
  const pids: number[] = [];
  const walk = async (d: string): Promise<void> => {
    const procs = await readFile(join(d, 'cgroup.procs'), 'utf8').catch(() => '');
    pids.push(...procs.split('\n').filter(Boolean).map(Number));
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) await walk(join(d, e.name));
  };
  await walk(dir);
  return pids;
}

async function removeCgroupTree(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) await removeCgroupTree(join(dir, e.name));
  await rmdir(dir).catch(() => undefined);
}

/** SIGKILLs every process of the node's pods (they all live under its cgroup root) and removes the cgroups. */
async function killPods(node: string): Promise<void> {
  const dirs = (await hierarchies()).map((h) => join(h, cgroupRoot(node))).filter((d) => existsSync(d));
  for (let attempt = 0; attempt < 20; attempt++) {
    const pids = new Set<number>();
    for (const d of dirs) for (const p of await cgroupPids(d)) pids.add(p);
    if (pids.size === 0) break;
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await sleep(250);
  }
  for (const d of dirs) await removeCgroupTree(d);
}

// -- mounts and leftovers -----------------------------------------------------------------------

/** Mount points under a folder, deepest first. */
function mountsUnder(dir: string): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const points = text.split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Shims (containerd-shim-runc-v2) serving a containerd socket under stateDir: they outlive containerd. */
async function shimPids(stateDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cl = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cl.includes('containerd-shim') && cl.includes(stateDir)) pids.push(Number(name));
    } catch {
      // exited
    }
  }
  return pids;
}

/** Network namespaces of the node's pod sandboxes, as containerd records them. */
async function sandboxNetns(sock: string): Promise<string[]> {
  const ids = await run('ctr', ['--address', sock, '--namespace', 'k8s.io', 'containers', 'list', '--quiet'], { timeoutMs: 20_000 }).catch(() => undefined);
  if (!ids || ids.code !== 0) return [];
  const paths: string[] = [];
  for (const id of ids.stdout.split('\n').filter(Boolean)) {
    const info = await run('ctr', ['--address', sock, '--namespace', 'k8s.io', 'containers', 'info', id], { timeoutMs: 20_000 }).catch(() => undefined);
    if (!info || info.code !== 0) continue;
    try {
      const c = JSON.parse(info.stdout) as { Spec?: { linux?: { namespaces?: { type?: string; path?: string }[] } } };
      for (const ns of c.Spec?.linux?.namespaces ?? []) if (ns.type === 'network' && ns.path?.startsWith('/var/run/netns/')) paths.push(ns.path);
    } catch {
      // not JSON
    }
  }
  return [...new Set(paths)];
}

/** kube-router's firewall chains (filter table) and ipsets. */
const FIREWALL_CHAIN = /^(KUBE-ROUTER-|KUBE-NWPLCY-|KUBE-POD-FW-)/;

async function removeFirewallChains(): Promise<void> {
  const rules = await run('iptables', ['-w', '-S']).catch(() => undefined);
  if (!rules || rules.code !== 0) return;
  const lines = rules.stdout.split('\n');
  for (const l of lines) {
    const m = /^-A (INPUT|FORWARD|OUTPUT) (.*)$/.exec(l);
    const target = / -j (\S+)/.exec(l)?.[1] ?? '';
    if (m?.[1] && m[2] && FIREWALL_CHAIN.test(target)) {
      // The rule's words as iptables printed them; quoted comments are one word each.
      const words = m[2].match(/"[^"]*"|\S+/g)?.map((w) => w.replace(/^"|"$/g, '')) ?? [];
      await maybe('iptables', ['-w', '-D', m[1], ...words]);
    }
  }
  const chains = lines.map((l) => /^-N (\S+)$/.exec(l)?.[1]).filter((c): c is string => c !== undefined && FIREWALL_CHAIN.test(c));
  for (const c of chains) await maybe('iptables', ['-w', '-F', c]);
  for (const c of chains) await maybe('iptables', ['-w', '-X', c]);
  const sets = await run('ipset', ['list', '-n']).catch(() => undefined);
  for (const name of sets?.stdout.split('\n') ?? []) {
    if (/^(KUBE-SRC-|KUBE-DST-|kube-router-)/.test(name)) await maybe('ipset', ['destroy', name]);
  }
}

function nodeDir(stateDir: string, node: string): string {
  return join(stateDir, 'nodes', node);
}

function containerdSocket(stateDir: string, node: string): string {
  return join(nodeDir(stateDir, node), 'containerd', 'containerd.sock');
}

/**
 * Stops the pods of the real nodes of stateDir and removes what they leave on the host
 * (processes, network namespaces, mounts, cgroups, bridges, routes, iptables rules). Called
 * before the processes are stopped (containerd must still answer for the namespaces) and
 * again after; safe to call twice, and for a control plane that died.
 */
export async function cleanupRealNodes(stateDir: string, count: number, nodeBin?: NodeBinaries): Promise<void> {
  const netns: string[] = [];
  for (let i = 0; i < count; i++) {
    const node = realNodeName(i);
    const sock = containerdSocket(stateDir, node);
    if (existsSync(sock)) netns.push(...await sandboxNetns(sock));
    await killPods(node);
  }
  for (const pid of await shimPids(stateDir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const p of netns) {
    await maybe('umount', [p]);
    await rm(p, { force: true });
  }
  for (const m of mountsUnder(stateDir)) await maybe('umount', ['--lazy', m]);
  // Their iptables chains and ipsets: kube-proxy removes its own; kube-router 2.1's
  // --cleanup-config leaves its filter chains, so they are removed here too.
  if (nodeBin && existsSync(nodeBin.kubeRouter)) await maybe(nodeBin.kubeRouter, ['--cleanup-config']);
  if (nodeBin && existsSync(nodeBin.kubeProxy)) await maybe(nodeBin.kubeProxy, ['--cleanup']);
  await removeFirewallChains();
  await tearDownHostNetwork(count);
  await unlockRealNodes(stateDir);
}

// -- start --------------------------------------------------------------------------------------

/** What the control plane must do for real nodes before kube-apiserver starts. */
export interface RealNodesPlan {
  count: number;
  /** Static token lines (`token,user,uid,"groups"`) for the kubelets, kube-proxy, CoreDNS, kube-router. */
  tokens: Record<string, { token: string; user: string; groups: string }>;
  /** Extra subjectAltNames of the API server's certificate. */
  sans: string[];
  /** Extra kube-apiserver flags. */
  apiserverArgs: string[];
}

export async function planRealNodes(stateDir: string, count: number, token: () => string, waitMs: number): Promise<RealNodesPlan> {
  await checkRealNodePrerequisites();
  await lockRealNodes(stateDir, waitMs);
  await setUpHostNetwork(count);
  const tokens: RealNodesPlan['tokens'] = {};
  for (let i = 0; i < count; i++) {
    const node = realNodeName(i);
    tokens[node] = { token: token(), user: `system:node:${node}`, groups: 'system:nodes' };
  }
  tokens['kube-proxy'] = { token: token(), user: 'system:kube-proxy', groups: '' };
  tokens.coredns = { token: token(), user: 'coredns', groups: 'system:masters' };
  tokens['kube-router'] = { token: token(), user: 'kube-router', groups: 'system:masters' };
  const gateway = nodeNetwork(0).gateway;
  return {
    count,
    tokens,
    sans: [`IP:${gateway}`],
    apiserverArgs: [
      // Pods reach the API server through the `kubernetes` Service, whose endpoint is this address.
      `--advertise-address=${gateway}`,
      // Reach kubelets (logs, exec) by their address: their names are in no DNS.
      '--kubelet-preferred-address-types=InternalIP',
      '--enable-admission-plugins=PodNodeSelector,PodTolerationRestriction',
    ],
  };
}

export interface StartRealNodesInput {
  stateDir: string;
  plan: RealNodesPlan;
  nodeBin: NodeBinaries;
  kubectl: string;
  images: ImageSet;
  /** Writes a kubeconfig for a user of the plan; returns its path. */
  kubeconfigFor: (user: string, server?: string) => Promise<string>;
  /** The API server as pods and the host's processes reach it. */
  server: string;
  /** Starts a recorded process of the control plane. */
  launch: (name: string, program: string, args: string[], env?: NodeJS.ProcessEnv) => Promise<void>;
  /** Waits for a condition while watching the started processes. */
  waitUntil: (what: string, timeoutMs: number, check: () => Promise<boolean>) => Promise<void>;
  nodeReady: (name: string) => Promise<boolean>;
}

function containerdConfig(dir: string, pauseImage: string): string {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
[grpc]
  address = "${dir}/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseImage}"
  # This machine refuses negative oom_score_adj values (writing -998 fails with EIO): clamp
  # the sandbox's and containers' values to containerd's own instead of failing every pod.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN}"
    conf_dir = "${dir}/cni"
`;
}

function cniConfig(i: number, ipamDir: string): string {
  const n = nodeNetwork(i);
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: `standby-${realNodeName(i)}`,
    plugins: [
      {
        type: 'bridge',
        bridge: n.bridge,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet: n.subnet, gateway: n.gateway }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  }, null, 2);
}

function kubeletConfig(i: number, sock: string, dir: string): string {
  const n = nodeNetwork(i);
  const node = realNodeName(i);
  return JSON.stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // These machines have cgroup v1 (a hybrid with an empty v2 mount); the 1.36 kubelet refuses
    // v1 unless told otherwise. The cgroupfs driver: there is no systemd here.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: `/${cgroupRoot(node)}`,
    containerRuntimeEndpoint: `unix://${sock}`,
    address: n.gateway,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: n.gateway,
    healthzPort: 10248,
    // Test cluster: the API server calls the kubelet (logs, exec) without client certificates.
    authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
    authorization: { mode: 'AlwaysAllow' },
    clusterDNS: [DNS_ADDRESS],
    clusterDomain: CLUSTER_DOMAIN,
    resolvConf: join(dir, 'resolv.conf'),
    podLogsDir: join(dir, 'pod-logs'),
    registerWithTaints: [{ key: REAL_NODE_TAINT, value: 'true', effect: 'NoSchedule' }],
    failSwapOn: false,
    oomScoreAdj: 0, // negative values are refused here (see containerdConfig)
    enforceNodeAllocatable: [],
    localStorageCapacityIsolation: false,
    // Imported images cannot be pulled again: never garbage-collect them, never evict for disk.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    maxPods: 60,
    serializeImagePulls: false,
    nodeStatusUpdateFrequency: '5s',
    syncFrequency: '10s',
    shutdownGracePeriod: '0s',
  }, null, 2);
}

/** Imports the images into a node's containerd, also under their pinned `name@sha256:` reference. */
async function importImages(sock: string, images: ImageSet): Promise<void> {
  for (const img of [images.pause, images.shell, images.postgres, images.operator]) {
    await must('ctr', ['--address', sock, '--namespace', 'k8s.io', 'images', 'import', '--no-unpack=false', img.archive], `importing ${img.name}`);
    await maybe('ctr', ['--address', sock, '--namespace', 'k8s.io', 'images', 'rm', img.pinned]);
    await must('ctr', ['--address', sock, '--namespace', 'k8s.io', 'images', 'tag', img.name, img.pinned], `tagging ${img.pinned}`);
  }
}

export async function startRealNodes(input: StartRealNodesInput): Promise<RealNodesState> {
  const { stateDir, plan, nodeBin, images } = input;
  const state: RealNodesState = {
    count: plan.count,
    nodes: [],
    containerd: {},
    images: { operator: images.operator.pinned, postgres: images.postgres.pinned, shell: images.shell.pinned, pause: images.pause.pinned },
  };
  for (let i = 0; i < plan.count; i++) {
    const node = realNodeName(i);
    const dir = nodeDir(stateDir, node);
    const ctd = join(dir, 'containerd');
    for (const d of [join(ctd, 'cni'), join(dir, 'kubelet'), join(dir, 'pod-logs'), join(dir, 'cni-ipam')]) await mkdir(d, { recursive: true });
    await writeFile(join(ctd, 'config.toml'), containerdConfig(ctd, images.pause.name));
    await writeFile(join(ctd, 'cni', '10-standby.conflist'), cniConfig(i, join(dir, 'cni-ipam')));
    const sock = join(ctd, 'containerd.sock');
    await input.launch(`containerd-${node}`, 'containerd', ['--config', join(ctd, 'config.toml'), '--log-level', 'warn']);
    await input.waitUntil(`containerd of ${node} to answer`, 30_000, async () => (await run('ctr', ['--address', sock, 'version'], { timeoutMs: 5_000 })).code === 0);
    log(`importing the test images into ${node}'s containerd`);
    await importImages(sock, images);
    state.containerd[node] = sock;

    await createCgroupRoot(node);
    await writeFile(join(dir, 'resolv.conf'), `nameserver ${DNS_ADDRESS}\n`);
    await writeFile(join(dir, 'kubelet.json'), kubeletConfig(i, sock, dir));
    const kc = await input.kubeconfigFor(node);
    await input.launch(`kubelet-${node}`, nodeBin.kubelet, [
      `--config=${join(dir, 'kubelet.json')}`,
      `--kubeconfig=${kc}`,
      `--root-dir=${join(dir, 'kubelet')}`,
      `--cert-dir=${join(dir, 'kubelet', 'pki')}`,
      `--hostname-override=${node}`,
      `--node-ip=${nodeNetwork(i).gateway}`,
      `--node-labels=${REAL_NODE_LABEL}=real,topology.kubernetes.io/zone=zone-real`,
      '--v=1',
    ]);
    state.nodes.push(node);
  }
  for (const node of state.nodes) {
    await input.waitUntil(`the real node ${node} to be Ready`, 120_000, () => input.nodeReady(node));
  }

  const proxyDir = join(stateDir, 'kube-proxy');
  await mkdir(proxyDir, { recursive: true });
  await writeFile(join(proxyDir, 'config.json'), JSON.stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig: await input.kubeconfigFor('kube-proxy') },
    mode: 'iptables',
    clusterCIDR: REAL_POD_CIDR,
    hostnameOverride: realNodeName(0),
    bindAddress: nodeNetwork(0).gateway,
    healthzBindAddress: `${nodeNetwork(0).gateway}:10256`,
    metricsBindAddress: `${nodeNetwork(0).gateway}:10249`,
    // No conntrack table resizing: the sysctls are not ours to change on a shared machine.
    conntrack: { maxPerCore: 0, min: 0 },
    iptables: { minSyncPeriod: '0s', syncPeriod: '30s' },
  }, null, 2));
  await input.launch('kube-proxy', nodeBin.kubeProxy, [`--config=${join(proxyDir, 'config.json')}`, '--v=1']);

  const dnsDir = join(stateDir, 'coredns');
  await mkdir(dnsDir, { recursive: true });
  await writeFile(join(dnsDir, 'Corefile'), [
    '.:53 {',
    `  bind ${DNS_ADDRESS}`,
    '  errors',
    `  ready ${DNS_ADDRESS}:8181`,
    `  kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {`,
    `    kubeconfig ${await input.kubeconfigFor('coredns')} standby-test`,
    '    pods insecure',
    '    fallthrough in-addr.arpa ip6.arpa',
    '  }',
    // No forward: nothing outside the cluster is resolved (this machine reaches no other network).
    '}',
    '',
  ].join('\n'));
  await input.launch('coredns', nodeBin.coredns, ['-conf', join(dnsDir, 'Corefile')]);
  await input.waitUntil('CoreDNS to be ready', 60_000, async () => {
    const res = await fetch(`http://${DNS_ADDRESS}:8181/ready`, { signal: AbortSignal.timeout(2_000) });
    return res.ok;
  });
  await input.waitUntil('kube-proxy to be healthy', 60_000, async () => {
    const res = await fetch(`http://${nodeNetwork(0).gateway}:10256/healthz`, { signal: AbortSignal.timeout(2_000) });
    return res.ok;
  });

  // NetworkPolicy: kube-router's firewall only (pod networking is the bridge, Services are kube-proxy's).
  const routerArgs = (node: string): string[] => [
    `--kubeconfig=${routerKubeconfig}`,
    `--hostname-override=${node}`,
    '--run-firewall=true',
    '--run-router=false',
    '--run-service-proxy=false',
    '--enable-cni=false',
    '--enable-ipv6=false',
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    `--health-port=${KUBE_ROUTER_HEALTH_PORT}`,
    '--iptables-sync-period=1m',
    '--v=1',
  ];
  const routerKubeconfig = await input.kubeconfigFor('kube-router');
  // One firewall per node would each program the host's one iptables: node 0's guards the
  // pods of every bridge (they all live in this network namespace).
  await input.launch('kube-router', nodeBin.kubeRouter, routerArgs(realNodeName(0)));
  await input.waitUntil('kube-router to be healthy', 60_000, async () => {
    const res = await fetch(`http://127.0.0.1:${KUBE_ROUTER_HEALTH_PORT}/healthz`, { signal: AbortSignal.timeout(2_000) });
    return res.ok;
  });
  return state;
}
