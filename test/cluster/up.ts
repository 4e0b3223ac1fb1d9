// npm run cluster:up — builds (cached) and starts the test control plane with its state in
// <repo>/.cluster/, then prints the KUBECONFIG line. Does nothing if one is already up and healthy.
import { relative } from 'node:path';
import { defaultStateDir, log, repoRoot, runMain } from './common.ts';
import { checkHealth, readState, startControlPlane, stopControlPlane } from './control-plane.ts';

runMain(async () => {
  const existing = await readState(defaultStateDir);
  if (existing) {
    const health = await checkHealth(existing);
    if (health.ok) {
      log(`a control plane is already up (${existing.server}, started ${existing.startedAt}); nothing to do`);
      printUsage(existing.kubeconfig, existing.bin.kubectl);
      return;
    }
    log(`cleaning up a control plane that is not healthy: ${health.reason}`);
    await stopControlPlane(defaultStateDir);
  }
  const started = Date.now();
  const state = await startControlPlane({ stateDir: defaultStateDir, owner: 'cluster:up' });
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
