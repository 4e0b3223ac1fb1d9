// npm run cluster:heal                     restore every link cut by cluster:partition
// npm run cluster:heal -- primary standby  restore only the link between two sites
import { parseArgs } from 'node:util';
import { ClusterError, defaultStateDir, log, runMain } from './common.ts';
import { heal } from './sites.ts';

runMain(async () => {
  const { positionals } = parseArgs({ allowPositionals: true, strict: true });
  if (positionals.length !== 0 && positionals.length !== 2) throw new ClusterError('usage: npm run cluster:heal [-- SITE_A SITE_B]');
  const state = await heal(defaultStateDir, positionals[0], positionals[1]);
  log(`cuts in force: ${state.cuts.map((c) => `${c.from} -> ${c.to}`).join(', ') || 'none'}`);
});
