// npm run cluster:down — stops every process that `npm run cluster:up` started (SIGTERM, then
// SIGKILL) and removes <repo>/.cluster/ (for a multi-site harness also its namespaces, veth
// pairs, bridge and nftables table).
//
//   npm run cluster:down -- --site primary [--graceful]
//       site loss: kills every process in that site's network namespace (SIGKILL at once, or a
//       SIGTERM shutdown with --graceful) and keeps its data, so `cluster:up -- --site primary`
//       brings it back
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ClusterError, defaultStateDir, log, runMain } from './common.ts';
import { stopControlPlane } from './control-plane.ts';
import { readSites, stopSite, teardownSites, SITES_FILE } from './sites.ts';

runMain(async () => {
  const { values } = parseArgs({ options: { site: { type: 'string' }, graceful: { type: 'boolean' } }, strict: true });
  if (values.site !== undefined) {
    if (!(await readSites(defaultStateDir))) throw new ClusterError('no sites are recorded in .cluster/ (--site is for `cluster:up -- --sites ...`)');
    const killed = await stopSite(defaultStateDir, values.site, { graceful: values.graceful === true });
    log(`site ${values.site} stopped: ${killed.length} processes killed${values.graceful ? ' (after a SIGTERM shutdown)' : ''}; bring it back with \`npm run cluster:up -- --site ${values.site}\``);
    return;
  }
  if (existsSync(join(defaultStateDir, SITES_FILE))) {
    const { stopped } = await teardownSites(defaultStateDir);
    log(`stopped sites ${stopped.join(', ')}; removed their network and .cluster/`);
    return;
  }
  const { stopped, hadState } = await stopControlPlane(defaultStateDir);
  if (!hadState) {
    log('no control plane state in .cluster/: nothing to stop');
    return;
  }
  log(stopped.length > 0 ? `stopped ${stopped.join(', ')}; removed .cluster/` : 'no process was running; removed .cluster/');
});
