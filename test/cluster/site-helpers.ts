// For multi-site test files (vitest project `sites`): the sites of this run, started on first
// use and shared by every later file (see sites-setup.ts).
import { inject } from 'vitest';
import { log } from './common.ts';
import { SITES } from './sites-setup.ts';
import { heal, readSites, sitesHealth, startSite, startSites, teardownSites, type SitesState } from './sites.ts';

/**
 * The sites primary, standby and witness, healthy and with every link restored: started if this
 * run has none yet, stopped sites brought back, cuts healed (a file that failed half-way may
 * have left either behind).
 */
export async function useSites(): Promise<SitesState> {
  const dir = inject('sitesDir');
  let state = await readSites(dir);
  if (state) {
    for (const s of state.sites.filter((x) => x.stoppedAt !== undefined)) await startSite(dir, s.name);
    state = await heal(dir);
    const bad = Object.entries(await sitesHealth(state)).filter(([, h]) => !h.ok);
    if (bad.length === 0) return state;
    if (inject('sitesReused')) throw new Error(`the sites from \`npm run cluster:up -- --sites\` are not healthy: ${bad.map(([n, h]) => `${n}: ${h.ok ? '' : h.reason}`).join('; ')}`);
    log(`sites: starting afresh: ${bad.map(([n]) => n).join(', ')} not healthy`);
    await teardownSites(dir);
  }
  log(`sites: starting ${SITES.map((s) => s.name).join(', ')} in ${dir}`);
  return startSites({ stateDir: dir, owner: 'vitest', ownerPid: inject('sitesOwnerPid'), sites: SITES });
}
