// npm run cluster:down — stops every process that `npm run cluster:up` started (SIGTERM, then
// SIGKILL) and removes <repo>/.cluster/.
import { defaultStateDir, log, runMain } from './common.ts';
import { stopControlPlane } from './control-plane.ts';

runMain(async () => {
  const { stopped, hadState } = await stopControlPlane(defaultStateDir);
  if (!hadState) {
    log('no control plane state in .cluster/: nothing to stop');
    return;
  }
  log(stopped.length > 0 ? `stopped ${stopped.join(', ')}; removed .cluster/` : 'no process was running; removed .cluster/');
});
