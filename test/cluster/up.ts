// npm run cluster:up — builds (cached) and starts the test control plane with its state in
// <repo>/.cluster/, then prints the KUBECONFIG line. Does nothing if one is already up and healthy.
//
//   npm run cluster:up -- --real-nodes 1   also real nodes (kubelet + containerd; see README)
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { ClusterError, defaultStateDir, log, repoRoot, runMain } from './common.ts';
import { checkHealth, readState, startControlPlane, stopControlPlane } from './control-plane.ts';

runMain(async () => {
  const { values } = parseArgs({ options: { 'real-nodes': { type: 'string', default: '0' } } });
  const realNodes = Number(values['real-nodes']);
  if (!Number.isInteger(realNodes) || realNodes < 0 || realNodes > 8) {
    throw new ClusterError(`--real-nodes ${values['real-nodes']}: give a whole number from 0 to 8`);
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
