// Starts and stops the test control plane: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, kwok (fake nodes, pod lifecycle) and the fake storage process, all on
// 127.0.0.1 with ports chosen at run time. Everything a run needs lives in one state folder
// (pids, ports, certificates, tokens, logs, etcd data):
//
//   <state>/state.json     what was started (read by cluster:down and the vitest setup)
//   <state>/kubeconfig     admin credentials (group system:masters)
//   <state>/logs/*.log     one log per process
//   <state>/pki, tokens.csv, kubeconfigs/, etcd/, volumes/
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { buildBinaries, moduleDir, type Binaries, type NodeBinaries } from './build.ts';
import { ClusterError, freePort, isAlive, isNotFound, log, repoRoot, run, sleep, tail } from './common.ts';
import { buildImages } from './images/build.ts';
import { cleanupRealNodes, handOverLock, planRealNodes, startRealNodes, type RealNodesPlan, type RealNodesState } from './real-node.ts';

export const STATE_FILE = 'state.json';
/** Names of the fake nodes kwok manages. */
export const NODE_NAMES = ['kwok-node-0', 'kwok-node-1'] as const;
/** Annotation that tells kwok to manage a node. */
const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';
const SERVICE_CIDR = '10.96.0.0/16'; // real-node.ts routes it
const LOOPBACK = '127.0.0.1';
const POD_CIDR = '10.244.0.1/16';

/** kwok stage files, read from the kwok module download (the same set `kwokctl` uses by default). */
const KWOK_STAGES = [
  'kustomize/stage/node/fast/node-initialize.yaml',
  'kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
  'kustomize/stage/pod/fast/pod-ready.yaml',
  'kustomize/stage/pod/fast/pod-complete.yaml',
  'kustomize/stage/pod/fast/pod-delete.yaml',
];

/** VolumeSnapshot CRDs, read from the external-snapshotter client module download. */
const SNAPSHOT_CRDS = [
  'config/crd/snapshot.storage.k8s.io_volumesnapshotclasses.yaml',
  'config/crd/snapshot.storage.k8s.io_volumesnapshotcontents.yaml',
  'config/crd/snapshot.storage.k8s.io_volumesnapshots.yaml',
];

export interface ProcessRecord {
  name: string;
  pid: number;
  /** The program that was started; checked before signalling a recorded pid. */
  program: string;
  log: string;
  /** Its arguments, so that a stopped site can be started again (`restartControlPlane`). */
  args?: string[];
  /** The network namespace it runs in (`ip netns exec`), if not the caller's. */
  netns?: string;
}

export interface ClusterState {
  version: 1;
  /** Who started it: `cluster:up` or `vitest`. */
  owner: string;
  /** pid of the process that started it (for `vitest`: the run that stops it at teardown). */
  ownerPid: number;
  stateDir: string;
  kubeconfig: string;
  server: string;
  kubernetesVersion: string;
  bin: Binaries;
  ports: Record<string, number>;
  processes: ProcessRecord[];
  nodes: string[];
  /** Real nodes (kubelet + containerd), when started with them. */
  realNodes?: RealNodesState;
  nodeBin?: NodeBinaries;
  startedAt: string;
  /** `full` (every component) or `api` (etcd and kube-apiserver only); absent = full. */
  profile?: Profile;
  /** The network namespace the processes run in, if any. */
  netns?: string;
}

/** What a control plane runs: everything, or just an API server (e.g. a witness). */
export type Profile = 'full' | 'api';

/** Just enough to call the API server. */
interface Conn {
  server: string;
  ca: string;
  token: string;
}

export async function readState(stateDir: string): Promise<ClusterState | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir, STATE_FILE), 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// API access

interface ApiResponse {
  status: number;
  body: string;
}

function apiRequest(conn: Conn, method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<ApiResponse> {
  return new Promise((resolvePromise, reject) => {
    const url = new URL(path, conn.server);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(url, {
      method,
      ca: conn.ca,
      headers: {
        authorization: `Bearer ${conn.token}`,
        accept: 'application/json',
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
      },
      timeout: timeoutMs,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }); });
      res.on('error', reject);
    });
    req.on('timeout', () => { req.destroy(new Error(`timeout after ${timeoutMs}ms`)); });
    req.on('error', reject);
    req.end(payload);
  });
}

async function apiGetJson(conn: Conn, path: string): Promise<unknown> {
  const res = await apiRequest(conn, 'GET', path);
  if (res.status !== 200) return undefined;
  return JSON.parse(res.body) as unknown;
}

interface Condition { type?: string; status?: string }
interface NodeView { spec?: { taints?: { key?: string }[] }; status?: { conditions?: Condition[] } }

function nodeReady(node: unknown): boolean {
  const n = node as NodeView | undefined;
  const ready = n?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  const notReadyTaint = n?.spec?.taints?.some((t) => t.key === 'node.kubernetes.io/not-ready' || t.key === 'node.kubernetes.io/unreachable') ?? false;
  return ready && !notReadyTaint;
}

function connFromState(state: ClusterState): Conn {
  const kc = readFileSync(state.kubeconfig, 'utf8');
  const token = /token:\s*(\S+)/.exec(kc)?.[1] ?? '';
  const ca = readFileSync(join(state.stateDir, 'pki', 'ca.crt'), 'utf8');
  return { server: state.server, ca, token };
}

export type Health = { ok: true } | { ok: false; reason: string };

/** Whether every recorded process runs and the API server answers /readyz. */
export async function checkHealth(state: ClusterState): Promise<Health> {
  for (const p of state.processes) {
    if (!isAlive(p.pid)) return { ok: false, reason: `${p.name} (pid ${p.pid}) is not running` };
  }
  try {
    const res = await apiRequest(connFromState(state), 'GET', '/readyz', undefined, 5_000);
    if (res.status !== 200) return { ok: false, reason: `kube-apiserver /readyz answered ${res.status}` };
  } catch (err) {
    return { ok: false, reason: `kube-apiserver is not reachable at ${state.server} (${err instanceof Error ? err.message : String(err)})` };
  }
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// Credentials

async function openssl(args: string[], cwd: string): Promise<void> {
  let res;
  try {
    res = await run('openssl', args, { cwd });
  } catch (err) {
    if (isNotFound(err)) throw new ClusterError('`openssl` is not on PATH (it makes the API server certificates): install it (e.g. `apt-get install openssl`) and try again');
    throw err;
  }
  if (res.code !== 0) throw new ClusterError(`openssl ${args[0] ?? ''} failed: ${tail(res.stderr, 1)}; check the openssl installation`);
}

interface Credentials {
  ca: string;
  tokens: Record<'admin' | 'controllerManager' | 'scheduler' | 'kwok' | 'storage', string>;
}

async function makeCredentials(stateDir: string, address: string, real?: RealNodesPlan): Promise<Credentials> {
  const pki = join(stateDir, 'pki');
  await mkdir(pki, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650',
    '-subj', '/CN=standby-operator-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'], pki);
  await openssl(['req', ...ec, '-keyout', 'apiserver.key', '-out', 'apiserver.csr', '-subj', '/CN=kube-apiserver'], pki);
  const sans = ['IP:127.0.0.1', ...(address === LOOPBACK ? [] : [`IP:${address}`]), 'IP:10.96.0.1', 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local', ...(real?.sans ?? [])];
  await writeFile(join(pki, 'apiserver.ext'), [
    `subjectAltName=${sans.join(',')}`,
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    '',
  ].join('\n'));
  await openssl(['x509', '-req', '-in', 'apiserver.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-days', '3650', '-extfile', 'apiserver.ext', '-out', 'apiserver.crt'], pki);

  // Service-account token signing key pair.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeFile(join(pki, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(join(pki, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));

  const tok = (): string => randomBytes(24).toString('hex');
  const tokens = { admin: tok(), controllerManager: tok(), scheduler: tok(), kwok: tok(), storage: tok() };
  // Static token file: token,user,uid,"groups". The controller manager and scheduler use the
  // identities that the RBAC bootstrap policy binds; kwok and the fake storage act as admins.
  await writeFile(join(stateDir, 'tokens.csv'), [
    `${tokens.admin},admin,admin,"system:masters"`,
    `${tokens.controllerManager},system:kube-controller-manager,system:kube-controller-manager,`,
    `${tokens.scheduler},system:kube-scheduler,system:kube-scheduler,`,
    `${tokens.kwok},kwok-controller,kwok-controller,"system:masters"`,
    `${tokens.storage},fake-storage,fake-storage,"system:masters"`,
    ...Object.values(real?.tokens ?? {}).map((t) => `${t.token},${t.user},${t.user},"${t.groups}"`),
    '',
  ].join('\n'), { mode: 0o600 });
  return { ca: await readFile(join(pki, 'ca.crt'), 'utf8'), tokens };
}

function kubeconfigText(server: string, ca: string, user: string, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: standby-test',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${Buffer.from(ca).toString('base64')}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: standby-test',
    '  context:',
    '    cluster: standby-test',
    `    user: ${user}`,
    '    namespace: default',
    'current-context: standby-test',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Processes

interface Started {
  record: ProcessRecord;
  child: ChildProcess;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

function startProcess(stateDir: string, name: string, program: string, args: string[], netns?: string, env?: NodeJS.ProcessEnv): Started {
  const logFile = join(stateDir, 'logs', `${name}.log`);
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    // detached: its own process group, so it outlives `cluster:up` and can be signalled as a group.
    // `ip netns exec` enters the namespace and execs the program (same pid, same cmdline).
    const [cmd, argv] = netns === undefined ? [program, args] : ['ip', ['netns', 'exec', netns, program, ...args]];
    child = spawn(cmd, argv, { cwd: stateDir, detached: true, stdio: ['ignore', fd, fd], env: env ?? process.env });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new ClusterError(`could not start ${name} (${program}): check that the file exists and is executable, or run \`npm run cluster:build\``);
  const record: ProcessRecord = { name, pid: child.pid, program, log: logFile, args, ...(netns === undefined ? {} : { netns }) };
  const started: Started = { record, child };
  child.on('exit', (code, signal) => { started.exit = { code, signal }; });
  child.unref();
  return started;
}

function lastLogLines(file: string, n: number): string {
  try {
    return tail(readFileSync(file, 'utf8'), n);
  } catch {
    return '';
  }
}

/** One line that says why a process died and what to do. */
function deathMessage(p: Started): string {
  const text = lastLogLines(p.record.log, 40);
  const how = p.exit?.signal ? `was killed by ${p.exit.signal}` : `exited with code ${p.exit?.code ?? '?'}`;
  if (/address already in use|bind: address/i.test(text)) {
    return `${p.record.name} ${how}: a port it was given is taken by another program (ports are picked at random); run the command again. Log: ${p.record.log}`;
  }
  const last = text.split('\n').filter((l) => l.trim() !== '').pop() ?? '(empty log)';
  return `${p.record.name} ${how}; see ${p.record.log} (last line: ${last.slice(0, 300)})`;
}

async function waitUntil(what: string, timeoutMs: number, procs: Started[], check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    const dead = procs.find((p) => p.exit !== undefined);
    if (dead) throw new ClusterError(deathMessage(dead));
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      const logs = procs.map((p) => p.record.log).join(', ');
      throw new ClusterError(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what}${lastError ? ` (${lastError})` : ''}; see the logs: ${logs}`);
    }
    await sleep(300);
  }
}

/** Reads /proc/<pid>/cmdline; undefined when unavailable. */
function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return undefined;
  }
}

/** Whether pid still runs the recorded program (guards against signalling a recycled pid). */
function isOurs(p: ProcessRecord): boolean {
  if (!isAlive(p.pid)) return false;
  const cl = cmdline(p.pid);
  return cl === undefined || cl.includes(p.program);
}

function signal(p: ProcessRecord, sig: NodeJS.Signals): void {
  try {
    process.kill(-p.pid, sig); // the whole process group that was started for it
  } catch {
    try {
      process.kill(p.pid, sig);
    } catch {
      // already gone
    }
  }
}

/**
 * Stops processes one at a time in reverse start order (clients, then kube-apiserver, then
 * etcd: an API server whose etcd is gone hangs in its shutdown): SIGTERM, then SIGKILL after
 * `graceMs`. Returns the names of those that were running.
 */
export async function stopProcesses(records: readonly ProcessRecord[], graceMs = 10_000): Promise<string[]> {
  const ours = [...records].reverse().filter(isOurs);
  for (const p of ours) {
    signal(p, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (isAlive(p.pid) && Date.now() < deadline) await sleep(50);
    if (isAlive(p.pid)) {
      log(`${p.name} (pid ${p.pid}) did not stop within ${graceMs / 1000}s of SIGTERM: sending SIGKILL`);
      signal(p, 'SIGKILL');
      const killDeadline = Date.now() + 5_000;
      while (isAlive(p.pid) && Date.now() < killDeadline) await sleep(50);
    }
  }
  return ours.map((p) => p.name);
}

/** Stops what the state folder records and removes the folder. */
export async function stopControlPlane(stateDir: string): Promise<{ stopped: string[]; hadState: boolean }> {
  const state = await readState(stateDir);
  const real = state?.realNodes;
  let stopped: string[] = [];
  if (state && real) {
    // The kubelets first (they would restart what is killed), then every pod's processes while
    // containerd still answers for their namespaces, then the rest; then what pods left behind.
    stopped = await stopProcesses(state.processes.filter((p) => p.name.startsWith('kubelet-')));
    await cleanupRealNodes(stateDir, real.count);
    stopped.push(...await stopProcesses(state.processes.filter((p) => !p.name.startsWith('kubelet-'))));
    await cleanupRealNodes(stateDir, real.count, state.nodeBin);
  } else if (state) {
    stopped = await stopProcesses(state.processes);
  }
  const hadState = existsSync(stateDir);
  await rm(stateDir, { recursive: true, force: true });
  return { stopped, hadState };
}

async function etcdHealthy(address: string, port: number): Promise<boolean> {
  const res = await fetch(`http://${address}:${port}/health`, { signal: AbortSignal.timeout(2_000) });
  return res.ok && ((await res.json()) as { health?: string }).health === 'true';
}

async function apiReady(conn: Conn): Promise<boolean> {
  return (await apiRequest(conn, 'GET', '/readyz', undefined, 3_000)).status === 200;
}

async function nodesReady(conn: Conn): Promise<boolean> {
  for (const name of NODE_NAMES) {
    if (!nodeReady(await apiGetJson(conn, `/api/v1/nodes/${name}`))) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Start

export interface StartOptions {
  stateDir: string;
  /** Recorded in state.json: `cluster:up` or `vitest`. */
  owner: string;
  /**
   * Run every process inside this network namespace (`ip netns exec`), which must exist and hold
   * `address` on an interface that is up. Default: the caller's namespace.
   */
  netns?: string;
  /** The address etcd and kube-apiserver listen on and kubeconfigs name. Default 127.0.0.1. */
  address?: string;
  /** Default `full`; `api` starts etcd and kube-apiserver only (enough for Leases: a witness). */
  profile?: Profile;
  /** Real nodes to start beside the kwok nodes (default 0: none, nothing of them is built). */
  realNodes?: number;
  /** How long to wait for another control plane's real nodes to stop (one set per machine). */
  realNodesWaitMs?: number;
}

/**
 * Builds (cached) and starts a control plane in an empty state folder. On failure, stops what
 * it started, keeps the logs and throws a ClusterError with a one-line message.
 */
export async function startControlPlane(opts: StartOptions): Promise<ClusterState> {
  const { stateDir, netns } = opts;
  const address = opts.address ?? LOOPBACK;
  const profile = opts.profile ?? 'full';
  const realCount = opts.realNodes ?? 0;
  if (realCount > 0 && (netns !== undefined || address !== LOOPBACK)) {
    throw new ClusterError('real nodes run beside a control plane on this host only, not inside a site\'s network namespace');
  }
  const build = await buildBinaries({ nodes: realCount > 0 });
  const { bin } = build;
  const images = realCount > 0 ? await buildImages() : undefined;
  const [kwokDir, snapshotterDir] = await Promise.all([
    moduleDir('kwok', 'sigs.k8s.io/kwok'),
    moduleDir('snapshotter', 'github.com/kubernetes-csi/external-snapshotter/client/v8'),
  ]);
  const stageFiles = KWOK_STAGES.map((f) => join(kwokDir, f));
  const crdFiles = SNAPSHOT_CRDS.map((f) => join(snapshotterDir, f));
  for (const f of [...stageFiles, ...crdFiles]) {
    if (!existsSync(f)) throw new ClusterError(`${f} is missing from the downloaded module: was the pinned version changed? Check test/cluster/go/*/go.mod`);
  }

  await rm(stateDir, { recursive: true, force: true });
  for (const d of ['logs', 'kubeconfigs', 'etcd', 'volumes']) await mkdir(join(stateDir, d), { recursive: true });
  const real = realCount > 0
    ? await planRealNodes(stateDir, realCount, () => randomBytes(24).toString('hex'), opts.realNodesWaitMs ?? 0)
    : undefined;
  let creds: Credentials;
  try {
    creds = await makeCredentials(stateDir, address, real);
  } catch (err) {
    if (real) await cleanupRealNodes(stateDir, real.count);
    throw err;
  }

  const ports = {
    etcdClient: await freePort(),
    etcdPeer: await freePort(),
    apiserver: await freePort(),
    controllerManager: await freePort(),
    scheduler: await freePort(),
    kwok: await freePort(),
  };
  const server = `https://${address}:${ports.apiserver}`;
  const kubeconfig = join(stateDir, 'kubeconfig');
  const kcPath = (name: string): string => join(stateDir, 'kubeconfigs', `${name}.kubeconfig`);
  await writeFile(kubeconfig, kubeconfigText(server, creds.ca, 'admin', creds.tokens.admin), { mode: 0o600 });
  await writeFile(kcPath('kube-controller-manager'), kubeconfigText(server, creds.ca, 'system:kube-controller-manager', creds.tokens.controllerManager), { mode: 0o600 });
  await writeFile(kcPath('kube-scheduler'), kubeconfigText(server, creds.ca, 'system:kube-scheduler', creds.tokens.scheduler), { mode: 0o600 });
  await writeFile(kcPath('kwok'), kubeconfigText(server, creds.ca, 'kwok-controller', creds.tokens.kwok), { mode: 0o600 });
  await writeFile(kcPath('storage'), kubeconfigText(server, creds.ca, 'fake-storage', creds.tokens.storage), { mode: 0o600 });
  const conn: Conn = { server, ca: creds.ca, token: creds.tokens.admin };
  const pki = (f: string): string => join(stateDir, 'pki', f);

  const procs: Started[] = [];
  const state: ClusterState = {
    version: 1,
    owner: opts.owner,
    ownerPid: process.pid,
    stateDir,
    kubeconfig,
    server,
    kubernetesVersion: build.kubernetesVersion,
    bin,
    ports,
    processes: [],
    nodes: profile === 'full' ? [...NODE_NAMES] : [],
    ...(build.nodeBin ? { nodeBin: build.nodeBin } : {}),
    startedAt: new Date().toISOString(),
    ...(profile === 'full' ? {} : { profile }),
    ...(netns === undefined ? {} : { netns }),
  };
  const saveState = async (): Promise<void> => {
    state.processes = procs.map((p) => p.record);
    await writeFile(join(stateDir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  };
  const launch = async (name: string, program: string, args: string[], env?: NodeJS.ProcessEnv): Promise<void> => {
    log(`starting ${name}`);
    procs.push(startProcess(stateDir, name, program, args, netns, env));
    await saveState(); // so that cluster:down can stop a half-started control plane
  };

  try {
    await launch('etcd', bin.etcd, [
      '--name=standby-test',
      `--data-dir=${join(stateDir, 'etcd')}`,
      `--listen-client-urls=http://${address}:${ports.etcdClient}`,
      `--advertise-client-urls=http://${address}:${ports.etcdClient}`,
      `--listen-peer-urls=http://${address}:${ports.etcdPeer}`,
      `--initial-advertise-peer-urls=http://${address}:${ports.etcdPeer}`,
      `--initial-cluster=standby-test=http://${address}:${ports.etcdPeer}`,
      '--unsafe-no-fsync', // test data: durability is not worth the fsync latency
      '--log-level=warn',
    ]);
    await waitUntil('etcd to be healthy', 30_000, procs, () => etcdHealthy(address, ports.etcdClient));

    await launch('kube-apiserver', bin.kubeApiserver, [
      `--etcd-servers=http://${address}:${ports.etcdClient}`,
      // Real nodes: pods reach it on the bridge's address (see real-node.ts).
      `--bind-address=${real ? '0.0.0.0' : address}`,
      ...(real ? real.apiserverArgs : [`--advertise-address=${address}`]),
      `--secure-port=${ports.apiserver}`,
      `--cert-dir=${join(stateDir, 'pki')}`,
      `--tls-cert-file=${pki('apiserver.crt')}`,
      `--tls-private-key-file=${pki('apiserver.key')}`,
      `--client-ca-file=${pki('ca.crt')}`,
      `--token-auth-file=${join(stateDir, 'tokens.csv')}`,
      '--authorization-mode=Node,RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki('sa.pub')}`,
      `--service-account-signing-key-file=${pki('sa.key')}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--allow-privileged=true',
      '--profiling=false',
      '--event-ttl=1h',
    ]);
    await waitUntil('kube-apiserver to be ready (/readyz)', 90_000, procs, () => apiReady(conn));
    if (profile === 'api') {
      await saveState();
      return state;
    }

    await launch('kube-controller-manager', bin.kubeControllerManager, [
      `--kubeconfig=${kcPath('kube-controller-manager')}`,
      `--authentication-kubeconfig=${kcPath('kube-controller-manager')}`,
      `--authorization-kubeconfig=${kcPath('kube-controller-manager')}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${ports.controllerManager}`,
      `--cert-dir=${join(stateDir, 'pki', 'kube-controller-manager')}`,
      '--leader-elect=false',
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${pki('sa.key')}`,
      `--root-ca-file=${pki('ca.crt')}`,
      `--cluster-signing-cert-file=${pki('ca.crt')}`,
      `--cluster-signing-key-file=${pki('ca.key')}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--controllers=*', // every controller that is on by default (cronjob, job, statefulset, ...)
      '--kube-api-qps=50',
      '--kube-api-burst=100',
      '--profiling=false',
    ]);
    await launch('kube-scheduler', bin.kubeScheduler, [
      `--kubeconfig=${kcPath('kube-scheduler')}`,
      `--authentication-kubeconfig=${kcPath('kube-scheduler')}`,
      `--authorization-kubeconfig=${kcPath('kube-scheduler')}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${ports.scheduler}`,
      '--leader-elect=false',
      '--profiling=false',
    ]);

    // The fake nodes; kwok makes them Ready and keeps their leases fresh.
    for (const [i, name] of NODE_NAMES.entries()) {
      const res = await apiRequest(conn, 'POST', '/api/v1/nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name,
          annotations: { [KWOK_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: {
            'kubernetes.io/hostname': name,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': 'amd64',
            'node.kubernetes.io/instance-type': 'kwok',
            'topology.kubernetes.io/zone': `zone-${String.fromCharCode(97 + i)}`,
            type: 'kwok',
          },
        },
        status: {
          allocatable: { cpu: '32', memory: '256Gi', pods: '250' },
          capacity: { cpu: '32', memory: '256Gi', pods: '250' },
        },
      });
      if (res.status !== 201 && res.status !== 409) throw new ClusterError(`creating node ${name} failed (${res.status}): ${res.body.slice(0, 200)}`);
    }
    await launch('kwok', bin.kwok, [
      `--kubeconfig=${kcPath('kwok')}`,
      ...stageFiles.map((f) => `--config=${f}`),
      '--manage-all-nodes=false',
      `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
      '--node-ip=127.0.0.1',
      `--cidr=${POD_CIDR}`,
      `--server-address=127.0.0.1:${ports.kwok}`,
      '--node-lease-duration-seconds=40', // kwok renews the nodes' Leases, so they stay Ready
    ]);

    // VolumeSnapshot CRDs, then the fake storage process (classes, provisioner, snapshotter).
    const applied = await run(bin.kubectl, ['--kubeconfig', kubeconfig, 'apply', '--server-side', '--force-conflicts', ...crdFiles.flatMap((f) => ['-f', f])]);
    if (applied.code !== 0) throw new ClusterError(`installing the VolumeSnapshot CRDs failed: ${tail(applied.stderr, 1)}`);
    await waitUntil('the VolumeSnapshot CRDs to be established', 30_000, procs, async () => {
      for (const plural of ['volumesnapshots', 'volumesnapshotcontents', 'volumesnapshotclasses']) {
        const crd = await apiGetJson(conn, `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${plural}.snapshot.storage.k8s.io`) as { status?: { conditions?: Condition[] } } | undefined;
        if (!crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return false;
      }
      return true;
    });
    await launch('storage', process.execPath, [
      join(repoRoot, 'test', 'cluster', 'storage.ts'),
      `--kubeconfig=${kcPath('storage')}`,
      `--volumes-dir=${join(stateDir, 'volumes')}`,
    ]);

    await waitUntil('the fake nodes to be Ready', 60_000, procs, () => nodesReady(conn));
    await waitUntil('the default ServiceAccount in namespace default', 60_000, procs, async () => {
      return (await apiRequest(conn, 'GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200;
    });
    await waitUntil('the fake storage classes', 30_000, procs, async () => {
      const sc = await apiRequest(conn, 'GET', '/apis/storage.k8s.io/v1/storageclasses/standard');
      const vsc = await apiRequest(conn, 'GET', '/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses/fake-snapclass');
      return sc.status === 200 && vsc.status === 200;
    });
    if (real && images && build.nodeBin) {
      state.realNodes = await startRealNodes({
        stateDir,
        plan: real,
        nodeBin: build.nodeBin,
        kubectl: bin.kubectl,
        images,
        server,
        kubeconfigFor: async (user: string) => {
          const t = real.tokens[user];
          if (!t) throw new ClusterError(`no token planned for ${user}`);
          const path = kcPath(user);
          await writeFile(path, kubeconfigText(server, creds.ca, t.user, t.token), { mode: 0o600 });
          return path;
        },
        launch,
        waitUntil: (what, timeoutMs, check) => waitUntil(what, timeoutMs, procs, check),
        nodeReady: async (name) => nodeReady(await apiGetJson(conn, `/api/v1/nodes/${name}`)),
      });
      state.nodes.push(...state.realNodes.nodes);
      await handOverLock(stateDir);
    }
    await saveState();
    return state;
  } catch (err) {
    if (real) await cleanupRealNodes(stateDir, real.count, build.nodeBin);
    await stopProcesses(procs.map((p) => p.record));
    if (real) await cleanupRealNodes(stateDir, real.count, build.nodeBin);
    await rm(join(stateDir, STATE_FILE), { force: true });
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Restart (resilience tests)

/**
 * Restarts one recorded process (e.g. `kube-apiserver`) with the arguments it runs with, waits
 * until the control plane is healthy again and records the new pid. What a rolling upgrade or a
 * crash of that component looks like to its clients.
 */
export async function restartProcess(stateDir: string, name: string, downMs = 0): Promise<void> {
  const state = await readState(stateDir);
  if (!state) throw new ClusterError(`no control plane recorded in ${stateDir}`);
  const record = state.processes.find((p) => p.name === name);
  if (!record) throw new ClusterError(`no process named ${name} in ${stateDir}`);
  const argv = readFileSync(`/proc/${record.pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  const [program, ...args] = argv;
  if (program === undefined) throw new ClusterError(`cannot read how ${name} was started`);
  await stopProcesses([record]);
  if (downMs > 0) await sleep(downMs);
  const started = startProcess(stateDir, name, program, args, record.netns);
  record.pid = started.record.pid;
  await writeFile(join(stateDir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (started.exit) throw new ClusterError(deathMessage(started));
    if ((await checkHealth(state)).ok) return;
    if (Date.now() > deadline) throw new ClusterError(`${name} did not come back within 90s; see ${record.log}`);
    await sleep(300);
  }
}

/**
 * Starts every recorded process of a stopped control plane again, with the arguments, network
 * namespace and data (etcd, certificates, tokens) it had: what a site coming back after a power
 * loss looks like. Waits until it is healthy (and, for a full one, its nodes are Ready).
 */
export async function restartControlPlane(stateDir: string): Promise<ClusterState> {
  const state = await readState(stateDir);
  if (!state) throw new ClusterError(`no control plane recorded in ${stateDir}`);
  const running = state.processes.filter(isOurs);
  if (running.length > 0) throw new ClusterError(`${running.map((p) => p.name).join(', ')} of ${stateDir} still run: stop the site first`);
  const conn = connFromState(state);
  const procs: Started[] = [];
  try {
    for (const record of state.processes) {
      if (record.args === undefined) throw new ClusterError(`${stateDir} does not record how ${record.name} was started (made by an older harness): run \`npm run cluster:down\` and start again`);
      const started = startProcess(stateDir, record.name, record.program, record.args, record.netns);
      procs.push(started);
      record.pid = started.record.pid;
      await writeFile(join(stateDir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
      if (record.name === 'etcd') {
        const port = state.ports.etcdClient ?? 0;
        const address = new URL(state.server).hostname;
        await waitUntil('etcd to be healthy', 30_000, procs, () => etcdHealthy(address, port));
      } else if (record.name === 'kube-apiserver') {
        await waitUntil('kube-apiserver to be ready (/readyz)', 90_000, procs, () => apiReady(conn));
      }
    }
    if (state.profile !== 'api') await waitUntil('the fake nodes to be Ready', 60_000, procs, () => nodesReady(conn));
    await waitUntil('the control plane to be healthy', 30_000, procs, async () => (await checkHealth(state)).ok);
    return state;
  } catch (err) {
    await stopProcesses(procs.map((p) => p.record));
    throw err;
  }
}
