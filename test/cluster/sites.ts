// The multi-site harness: one control plane per site, each in its own network namespace (see
// network.ts), with real partitions (nftables drops on the bridge between the sites) and real
// site loss (every process in the site's namespace killed). State lives in one folder:
//
//   <dir>/sites.json          the sites, their addresses and namespaces, the cuts in force
//   <dir>/<site>/kubeconfig   admin credentials of that site's API server (reachable from the
//                             root namespace, where the tests run, and from every other site)
//   <dir>/<site>/...          that site's control plane state (control-plane.ts), logs included
//
// `npm run cluster:up -- --sites primary,standby,witness` etc. call into this file; tests call
// it directly (test/cluster/sites-setup.ts starts one for the `sites` vitest project).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ClusterError, isAlive, log, run, sleep, type RunOptions, type RunResult } from './common.ts';
import {
  checkHealth,
  readState,
  restartControlPlane,
  startControlPlane,
  stopProcesses,
  type ClusterState,
  type Health,
  type Profile,
} from './control-plane.ts';
import {
  applyCuts,
  createNetwork,
  cutBetween,
  dedupe,
  healBetween,
  isolateCuts,
  netemUnavailable,
  netnsExists,
  netnsPids,
  netnsUnavailable,
  pickSubnet,
  removeNetwork,
  runnerAddress,
  setLatency,
  RUNNER,
  type Cut,
  type NetworkPlan,
} from './network.ts';

export const SITES_FILE = 'sites.json';

export interface SiteSpec {
  name: string;
  profile: Profile;
}

export interface SiteRecord extends SiteSpec {
  netns: string;
  hostVeth: string;
  address: string;
  /** That site's control plane state folder. */
  stateDir: string;
  kubeconfig: string;
  /** Set while the site is stopped (`stopSite`), cleared when it is started again. */
  stoppedAt?: string;
}

export interface SitesState {
  version: 1;
  owner: string;
  ownerPid: number;
  stateDir: string;
  network: NetworkPlan;
  /** The runner's address on the bridge, as the sites see the root namespace. */
  runnerAddress: string;
  sites: SiteRecord[];
  cuts: Cut[];
  /** Emulated one-way latency between sites (tc netem), 0 = none. */
  latencyMs: number;
  /** Why tc netem cannot emulate latency here, if it cannot. */
  netemUnavailable?: string;
  startedAt: string;
}

const SITE_NAME = /^[a-z][a-z0-9-]{0,30}$/;

/**
 * `primary,standby,witness` or with profiles `primary:full,witness:api`. A site named `witness`
 * runs just an API server (etcd + kube-apiserver) unless told `:full`; the others are full
 * control planes (controllers, scheduler, kwok nodes, fake storage).
 */
export function parseSiteList(text: string): SiteSpec[] {
  const specs = text.split(',').map((s) => s.trim()).filter((s) => s !== '').map((entry): SiteSpec => {
    const [name = '', profile, ...rest] = entry.split(':');
    if (!SITE_NAME.test(name) || name === RUNNER) {
      throw new ClusterError(`site name "${name}" is not allowed: use lower-case letters, digits and "-", starting with a letter, at most 31 characters, not "${RUNNER}"`);
    }
    if (rest.length > 0 || (profile !== undefined && profile !== 'full' && profile !== 'api')) {
      throw new ClusterError(`"${entry}": a site is NAME, NAME:full or NAME:api`);
    }
    return { name, profile: profile ?? (name === 'witness' ? 'api' : 'full') };
  });
  if (specs.length === 0) throw new ClusterError('--sites needs at least one site name, e.g. --sites primary,standby,witness');
  const dup = specs.find((s, i) => specs.findIndex((t) => t.name === s.name) !== i);
  if (dup) throw new ClusterError(`site "${dup.name}" is named twice in --sites`);
  if (specs.length > 8) throw new ClusterError('at most 8 sites');
  return specs;
}

/** `40ms`, `0.5s`, `0` → milliseconds. */
export function parseLatency(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim());
  if (!m) throw new ClusterError(`--latency "${text}" is not a duration: use e.g. 40ms or 0.1s`);
  const ms = Number(m[1]) * (m[2] === 's' ? 1000 : 1);
  if (ms > 10_000) throw new ClusterError('--latency is at most 10s');
  return Math.round(ms);
}

export async function readSites(dir: string): Promise<SitesState | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, SITES_FILE), 'utf8')) as SitesState;
  } catch {
    return undefined;
  }
}

async function saveSites(state: SitesState): Promise<void> {
  await writeFile(join(state.stateDir, SITES_FILE), `${JSON.stringify(state, null, 2)}\n`);
}

async function mustRead(dir: string): Promise<SitesState> {
  const state = await readSites(dir);
  if (!state) throw new ClusterError(`no sites recorded in ${dir}: start them with \`npm run cluster:up -- --sites primary,standby\``);
  return state;
}

export function site(state: SitesState, name: string): SiteRecord {
  const s = state.sites.find((x) => x.name === name);
  if (!s) throw new ClusterError(`no site named "${name}" (sites: ${state.sites.map((x) => x.name).join(', ')})`);
  return s;
}

/** Names derived from the state folder, so that harnesses in different folders never collide. */
function prefixOf(dir: string): { prefix: string; seed: number } {
  const h = createHash('sha256').update(resolve(dir)).digest();
  return { prefix: `sb${h.subarray(0, 2).toString('hex')}`, seed: h.readUInt16BE(2) };
}

export interface StartSitesOptions {
  stateDir: string;
  owner: string;
  sites: SiteSpec[];
  /** One-way latency between sites in ms (tc netem); fails if netem is unavailable. */
  latencyMs?: number;
  /** The process whose end makes the harness stale (default this one): vitest's main process for test runs. */
  ownerPid?: number;
}

/**
 * Creates the network and starts every site's control plane (in parallel). On failure, stops
 * and removes everything it made, keeps the logs, and throws a one-line ClusterError.
 */
export async function startSites(opts: StartSitesOptions): Promise<SitesState> {
  const why = await netnsUnavailable();
  if (why !== undefined) throw new ClusterError(why);
  const dir = resolve(opts.stateDir);
  const { prefix, seed } = prefixOf(dir);
  const plan: NetworkPlan = {
    bridge: `${prefix}-br`,
    table: `standby_${prefix}`,
    subnet: 0,
    sites: opts.sites.map((s, i) => ({ site: s.name, netns: `${prefix}-${s.name}`, hostVeth: `${prefix}-h${i}`, address: '' })),
  };
  // Left over by a harness in this folder that died without cleaning up (same names).
  await removeNetwork(plan);
  plan.subnet = await pickSubnet(seed);
  plan.sites.forEach((s, i) => { s.address = `10.213.${plan.subnet}.${10 + i}`; });

  await mkdir(dir, { recursive: true });
  const state: SitesState = {
    version: 1,
    owner: opts.owner,
    ownerPid: opts.ownerPid ?? process.pid,
    stateDir: dir,
    network: plan,
    runnerAddress: runnerAddress(plan),
    sites: opts.sites.map((s, i) => {
      const net = plan.sites[i]!;
      const stateDir = join(dir, s.name);
      return { ...s, netns: net.netns, hostVeth: net.hostVeth, address: net.address, stateDir, kubeconfig: join(stateDir, 'kubeconfig') };
    }),
    cuts: [],
    latencyMs: 0,
    startedAt: new Date().toISOString(),
  };
  await saveSites(state); // so that `cluster:down` can clean up a half-made harness
  try {
    await createNetwork(plan);
    const netem = await netemUnavailable(plan.sites[0]!.netns);
    if (netem !== undefined) state.netemUnavailable = netem;
    if (opts.latencyMs !== undefined && opts.latencyMs > 0) {
      if (netem !== undefined) throw new ClusterError(`${netem}: cannot emulate WAN latency; start without --latency`);
      await setLatency(plan, opts.latencyMs);
      state.latencyMs = opts.latencyMs;
    }
    await saveSites(state);
    log(`network ${plan.bridge} 10.213.${plan.subnet}.0/24: ${state.sites.map((s) => `${s.name} ${s.address} (netns ${s.netns})`).join(', ')}; ${state.latencyMs > 0 ? `latency ${state.latencyMs} ms one way` : netem ?? 'no emulated latency'}`);
    const results = await Promise.allSettled(state.sites.map((s) => startControlPlane({
      stateDir: s.stateDir,
      owner: opts.owner,
      netns: s.netns,
      address: s.address,
      profile: s.profile,
    })));
    const failed = results.findIndex((r) => r.status === 'rejected');
    if (failed >= 0) {
      const reason = (results[failed] as PromiseRejectedResult).reason as unknown;
      throw reason instanceof ClusterError ? new ClusterError(`site ${state.sites[failed]!.name}: ${reason.message}`) : reason;
    }
    return state;
  } catch (err) {
    await teardownSites(dir, { keepLogs: true });
    throw err;
  }
}

/** Every site's health (a stopped site is not healthy). */
export async function sitesHealth(state: SitesState): Promise<Record<string, Health>> {
  const out: Record<string, Health> = {};
  for (const s of state.sites) {
    if (s.stoppedAt !== undefined) {
      out[s.name] = { ok: false, reason: `site ${s.name} was stopped at ${s.stoppedAt}` };
      continue;
    }
    const cp = await readState(s.stateDir);
    out[s.name] = cp ? await checkHealth(cp) : { ok: false, reason: `site ${s.name} has no control plane state` };
  }
  return out;
}

export async function siteControlPlane(s: SiteRecord): Promise<ClusterState> {
  const cp = await readState(s.stateDir);
  if (!cp) throw new ClusterError(`site ${s.name} has no control plane state in ${s.stateDir}`);
  return cp;
}

/** SIGKILLs every process in a namespace and waits until none is left. */
async function killNamespace(netns: string): Promise<number[]> {
  const killed: number[] = [];
  for (let round = 0; round < 100; round++) {
    const pids = await netnsPids(netns);
    if (pids.length === 0) return killed;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        if (!killed.includes(pid)) killed.push(pid);
      } catch {
        // gone already
      }
    }
    await sleep(100);
  }
  throw new ClusterError(`processes ${(await netnsPids(netns)).join(', ')} in namespace ${netns} survived SIGKILL for 10s`);
}

export interface StopSiteOptions {
  /** SIGTERM the control plane in order first (a shutdown); default false: SIGKILL everything at once (a power loss). */
  graceful?: boolean;
}

/**
 * Site loss: every process in the site's network namespace dies (the control plane and anything
 * a test started there: an operator, PostgreSQL servers). Its data, addresses and namespace are
 * kept, so `startSite` can bring it back as it was. Returns the pids that were killed.
 */
export async function stopSite(dir: string, name: string, opts: StopSiteOptions = {}): Promise<number[]> {
  const state = await mustRead(dir);
  const s = site(state, name);
  if (opts.graceful === true) {
    const cp = await readState(s.stateDir);
    if (cp) await stopProcesses(cp.processes);
  }
  const killed = await killNamespace(s.netns);
  s.stoppedAt = new Date().toISOString();
  await saveSites(state);
  return killed;
}

/** Brings a stopped site back: the same control plane (etcd data, certificates, addresses). */
export async function startSite(dir: string, name: string): Promise<ClusterState> {
  const state = await mustRead(dir);
  const s = site(state, name);
  if (!(await netnsExists(s.netns))) throw new ClusterError(`the network namespace ${s.netns} of site ${name} is gone: run \`npm run cluster:down\` and start the sites again`);
  const cp = await restartControlPlane(s.stateDir);
  delete s.stoppedAt;
  await saveSites(state);
  return cp;
}

async function setCuts(dir: string, change: (state: SitesState) => Cut[]): Promise<SitesState> {
  const state = await mustRead(dir);
  const cuts = dedupe(change(state));
  await applyCuts(state.network, cuts);
  state.cuts = cuts;
  await saveSites(state);
  return state;
}

export interface PartitionOptions {
  /** Cut only what `a` sends to `b` (an asymmetric partition); default both ways. */
  oneWay?: boolean;
}

/** Cuts the link between two sites (or one direction of it); both stay reachable from the runner and every other site. */
export function partition(dir: string, a: string, b: string, opts: PartitionOptions = {}): Promise<SitesState> {
  return setCuts(dir, (state) => {
    site(state, a);
    site(state, b);
    if (a === b) throw new ClusterError(`cannot partition site ${a} from itself`);
    return [...state.cuts, ...(opts.oneWay === true ? [{ from: a, to: b }] : cutBetween(a, b))];
  });
}

export interface IsolateOptions {
  /** Cut the runner (the root namespace) off too; default false: tests can still watch the site. */
  includingRunner?: boolean;
}

/** Cuts one site off from every other site (and from the runner if asked). */
export function isolate(dir: string, name: string, opts: IsolateOptions = {}): Promise<SitesState> {
  return setCuts(dir, (state) => {
    site(state, name);
    return [...state.cuts, ...isolateCuts(name, state.sites.map((s) => s.name), opts.includingRunner === true)];
  });
}

/** Restores every link, or only the one between `a` and `b`. */
export function heal(dir: string, a?: string, b?: string): Promise<SitesState> {
  return setCuts(dir, (state) => {
    if (a === undefined || b === undefined) return [];
    for (const n of [a, b]) if (n !== RUNNER) site(state, n);
    return healBetween(state.cuts, a, b);
  });
}

/** Changes the emulated one-way latency between sites (0 removes it). */
export async function setSitesLatency(dir: string, delayMs: number): Promise<SitesState> {
  const state = await mustRead(dir);
  if (delayMs > 0 && state.netemUnavailable !== undefined) throw new ClusterError(`${state.netemUnavailable}: cannot emulate WAN latency`);
  await setLatency(state.network, delayMs);
  state.latencyMs = delayMs;
  await saveSites(state);
  return state;
}

/** The command line that runs `program args` inside a site's network namespace. */
export function inSite(s: SiteRecord, program: string, args: readonly string[]): [string, string[]] {
  return ['ip', ['netns', 'exec', s.netns, program, ...args]];
}

/** Starts a process inside a site's network namespace (it dies with the site: `stopSite`). */
export function spawnInSite(s: SiteRecord, program: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  const [cmd, argv] = inSite(s, program, args);
  return spawn(cmd, argv, opts);
}

/** Runs a program to completion inside a site's network namespace. */
export function runInSite(s: SiteRecord, program: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [cmd, argv] = inSite(s, program, args);
  return run(cmd, argv, opts);
}

export interface TeardownOptions {
  /** Keep the state folder (logs) instead of removing it. */
  keepLogs?: boolean;
}

/** Stops every site (SIGTERM in order, then whatever is left in the namespace), removes the network and the folder. */
export async function teardownSites(dir: string, opts: TeardownOptions = {}): Promise<{ stopped: string[]; hadState: boolean }> {
  const state = await readSites(dir);
  if (!state) return { stopped: [], hadState: existsSync(dir) };
  const stopped: string[] = [];
  await Promise.all(state.sites.map(async (s) => {
    const cp = await readState(s.stateDir);
    if (cp) await stopProcesses(cp.processes, 5_000);
    if (await netnsExists(s.netns).catch(() => false)) await killNamespace(s.netns);
    stopped.push(s.name);
  }));
  await removeNetwork(state.network);
  if (opts.keepLogs === true) await rm(join(dir, SITES_FILE), { force: true });
  else await rm(dir, { recursive: true, force: true });
  return { stopped, hadState: true };
}

/** Whether the process that owns a harness still runs (for reaping ones whose vitest died). */
export function ownerAlive(state: SitesState): boolean {
  return isAlive(state.ownerPid);
}
