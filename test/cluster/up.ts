// npm run cluster:up — builds (cached) and starts the test control plane with its state in
// <repo>/.cluster/, then prints the KUBECONFIG line. Does nothing if one is already up and healthy.
//
//   npm run cluster:up -- --real-nodes 1   also real nodes (kubelet + containerd; see README)
//   npm run cluster:up -- --sites primary,standby[,witness] [--latency 40ms]
//       one control plane per site, each in its own network namespace (sites.ts); state in
//       .cluster/sites.json, kubeconfigs in .cluster/<site>/kubeconfig
//   npm run cluster:up -- --site primary
//       brings back a site stopped with `npm run cluster:down -- --site primary`
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { ClusterError, defaultStateDir, log, repoRoot, runMain } from './common.ts';
import { checkHealth, readState, startControlPlane, stopControlPlane, STATE_FILE } from './control-plane.ts';
import { parseLatency, parseSiteList, readSites, site, sitesHealth, startSite, startSites, teardownSites, SITES_FILE, type SitesState } from './sites.ts';

runMain(async () => {
  const { values } = parseArgs({
    options: { sites: { type: 'string' }, site: { type: 'string' }, latency: { type: 'string' }, 'real-nodes': { type: 'string', default: '0' } },
    strict: true,
  });
  const realNodes = Number(values['real-nodes']);
  if (!Number.isInteger(realNodes) || realNodes < 0 || realNodes > 8) {
    throw new ClusterError(`--real-nodes ${values['real-nodes']}: give a whole number from 0 to 8`);
  }
  if (realNodes > 0 && (values.sites !== undefined || values.site !== undefined)) {
    throw new ClusterError('--real-nodes is for the single control plane, not for --sites');
  }
  if (values.site !== undefined) return bringBack(values.site);
  if (values.sites !== undefined) return upSites(values.sites, values.latency);
  if (values.latency !== undefined) throw new ClusterError('--latency is for --sites (the latency between sites)');
  if (existsSync(join(defaultStateDir, SITES_FILE))) {
    throw new ClusterError('.cluster/ holds a multi-site harness (cluster:up -- --sites): stop it with `npm run cluster:down` first');
  }
  const existing = await readState(defaultStateDir);
  if (existing) {
    const health = await checkHealth(existing);
    if (health.ok && (existing.realNodes?.count ?? 0) !== realNodes) {
      throw new ClusterError(`a control plane with ${existing.realNodes?.count ?? 0} real nodes is up already: npm run cluster:down first to start one with ${realNodes}`);
    }
    if (health.ok) {
      log(`a control plane is already up (${existing.server}, started ${existing.startedAt}); nothing to do`);
      printUsage(existing.kubeconfig, existing.bin.kubectl);
      return;
    }
    log(`cleaning up a control plane that is not healthy: ${health.reason}`);
    await stopControlPlane(defaultStateDir);
  }
  const started = Date.now();
  const state = await startControlPlane({ stateDir: defaultStateDir, owner: 'cluster:up', realNodes });
  if (process.env.KUBECONFIG !== undefined && process.env.KUBECONFIG !== state.kubeconfig) {
    log(`note: KUBECONFIG is set to ${process.env.KUBECONFIG} in this shell`);
  }
  log(`control plane ${state.kubernetesVersion} up in ${Math.round((Date.now() - started) / 1000)}s at ${state.server} (nodes: ${state.nodes.join(', ')}; logs: ${relative(repoRoot, state.stateDir)}/logs/)`);
  printUsage(state.kubeconfig, state.bin.kubectl);
});

function printUsage(kubeconfig: string, kubectl: string): void {
  process.stdout.write(`export KUBECONFIG=${kubeconfig}\n`);
  process.stderr.write(`# kubectl of the same version: ${kubectl}\n# stop it with: npm run cluster:down\n`);
}

async function upSites(list: string, latency: string | undefined): Promise<void> {
  const specs = parseSiteList(list);
  const latencyMs = latency === undefined ? undefined : parseLatency(latency);
  if (existsSync(join(defaultStateDir, STATE_FILE))) {
    throw new ClusterError('a single-site control plane is up in .cluster/ (npm run cluster:up): stop it with `npm run cluster:down` first');
  }
  const existing = await readSites(defaultStateDir);
  if (existing) {
    const same = existing.sites.map((s) => `${s.name}:${s.profile}`).join(',') === specs.map((s) => `${s.name}:${s.profile}`).join(',');
    const health = await sitesHealth(existing);
    const bad = Object.entries(health).filter(([, h]) => !h.ok);
    if (same && bad.length === 0 && (latencyMs === undefined || latencyMs === existing.latencyMs)) {
      log(`sites ${existing.sites.map((s) => s.name).join(', ')} are already up (started ${existing.startedAt}); nothing to do`);
      await printSites(existing);
      return;
    }
    if (!same) throw new ClusterError(`other sites are up in .cluster/ (${existing.sites.map((s) => s.name).join(', ')}): stop them with \`npm run cluster:down\` first`);
    const stopped = existing.sites.filter((s) => s.stoppedAt !== undefined).map((s) => s.name);
    if (stopped.length > 0 && bad.length === stopped.length) {
      throw new ClusterError(`site ${stopped.join(', ')} is stopped: bring it back with \`npm run cluster:up -- --site ${stopped[0] ?? ''}\`, or \`npm run cluster:down\` to start afresh`);
    }
    log(`cleaning up sites that are not healthy: ${bad.map(([n, h]) => `${n}: ${h.ok ? '' : h.reason}`).join('; ')}`);
    await teardownSites(defaultStateDir);
  }
  const started = Date.now();
  const state = await startSites({ stateDir: defaultStateDir, owner: 'cluster:up', sites: specs, ...(latencyMs === undefined ? {} : { latencyMs }) });
  log(`${state.sites.length} sites up in ${Math.round((Date.now() - started) / 1000)}s (logs: ${relative(repoRoot, defaultStateDir)}/<site>/logs/)`);
  await printSites(state);
}

async function bringBack(name: string): Promise<void> {
  const state = await readSites(defaultStateDir);
  if (!state) throw new ClusterError('no sites are recorded in .cluster/: start them with `npm run cluster:up -- --sites primary,standby`');
  const s = site(state, name);
  const started = Date.now();
  const cp = await startSite(defaultStateDir, name);
  log(`site ${name} is back in ${Math.round((Date.now() - started) / 1000)}s at ${cp.server}`);
  process.stdout.write(`export KUBECONFIG_${envName(name)}=${s.kubeconfig}\n`);
}

function envName(site: string): string {
  return site.toUpperCase().replaceAll('-', '_');
}

async function printSites(state: SitesState): Promise<void> {
  for (const s of state.sites) {
    const cp = await readState(s.stateDir);
    log(`site ${s.name} (${s.profile}): ${cp?.server ?? '?'} in netns ${s.netns}${s.stoppedAt ? ' (stopped)' : ''}`);
    process.stdout.write(`export KUBECONFIG_${envName(s.name)}=${s.kubeconfig}\n`);
  }
  const first = state.sites[0];
  if (first) process.stdout.write(`export KUBECONFIG=${first.kubeconfig}\n`);
  process.stderr.write([
    `# run a program in a site: npm run cluster:exec -- ${first?.name ?? 'SITE'} -- kubectl get nodes`,
    '# cut / restore links:     npm run cluster:partition -- A B   |   npm run cluster:heal',
    '# site loss / return:      npm run cluster:down -- --site A   |   npm run cluster:up -- --site A',
    '# stop everything:         npm run cluster:down',
    '',
  ].join('\n'));
}
