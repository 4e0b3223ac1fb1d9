// npm run cluster:exec -- SITE -- PROGRAM [ARGS...]
// Runs a program inside a site's network namespace with KUBECONFIG set to that site's admin
// kubeconfig (an operator for that site, a PostgreSQL server, kubectl, a shell). It dies with
// the site (`npm run cluster:down -- --site SITE`).
import { ClusterError, defaultStateDir, runMain } from './common.ts';
import { readSites, site, spawnInSite } from './sites.ts';

runMain(async () => {
  const argv = process.argv.slice(2);
  const name = argv[0];
  const rest = argv[1] === '--' ? argv.slice(2) : argv.slice(1);
  const [program, ...args] = rest;
  if (name === undefined || program === undefined) throw new ClusterError('usage: npm run cluster:exec -- SITE -- PROGRAM [ARGS...]');
  const state = await readSites(defaultStateDir);
  if (!state) throw new ClusterError('no sites are recorded in .cluster/: start them with `npm run cluster:up -- --sites primary,standby`');
  const s = site(state, name);
  const child = spawnInSite(s, program, args, { stdio: 'inherit', env: { ...process.env, KUBECONFIG: s.kubeconfig } });
  const code = await new Promise<number>((resolve) => {
    child.on('error', () => { resolve(127); });
    child.on('close', (c, sig) => { resolve(c ?? (sig ? 128 : 1)); });
  });
  process.exitCode = code;
});
