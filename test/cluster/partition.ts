// npm run cluster:partition -- primary standby          cut both directions between two sites
// npm run cluster:partition -- --one-way primary standby  drop only what primary sends to standby
// npm run cluster:partition -- --isolate primary [--including-runner]
//                                                       cut one site off from every other site
//                                                       (and from the test runner if asked)
// Cuts add up until `npm run cluster:heal`. Sites stay reachable from the runner (unless
// isolated including it) and from every site not named.
import { parseArgs } from 'node:util';
import { ClusterError, defaultStateDir, log, runMain } from './common.ts';
import { isolate, partition, type SitesState } from './sites.ts';

runMain(async () => {
  const { values, positionals } = parseArgs({
    options: { 'one-way': { type: 'boolean' }, isolate: { type: 'string' }, 'including-runner': { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
  let state: SitesState;
  if (values.isolate !== undefined) {
    if (positionals.length > 0) throw new ClusterError('--isolate SITE takes no other site names');
    state = await isolate(defaultStateDir, values.isolate, { includingRunner: values['including-runner'] === true });
  } else {
    const [a, b, ...rest] = positionals;
    if (a === undefined || b === undefined || rest.length > 0) throw new ClusterError('usage: npm run cluster:partition -- [--one-way] SITE_A SITE_B | --isolate SITE [--including-runner]');
    state = await partition(defaultStateDir, a, b, { oneWay: values['one-way'] === true });
  }
  log(`cuts in force: ${state.cuts.map((c) => `${c.from} -> ${c.to}`).join(', ') || 'none'}`);
});
