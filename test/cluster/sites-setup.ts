// vitest globalSetup of the `sites` project (multi-site tests). Reuses the sites of
// `npm run cluster:up -- --sites primary,standby,witness` when they are all healthy (and leaves
// them running); otherwise starts primary, standby and witness in a temporary folder and stops
// them at teardown (STANDBY_E2E_KEEP_STATE=1 keeps the folder with the logs). Tests read the
// folder with `inject('sitesDir')` and drive it with the functions of ./sites.ts.
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { buildBinaries } from './build.ts';
import { defaultStateDir, log } from './common.ts';
import { ownerAlive, readSites, sitesHealth, startSites, teardownSites, type SiteSpec } from './sites.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** State folder of the multi-site harness (sites.json, <site>/kubeconfig). */
    sitesDir: string;
    /** Whether the tests run against sites started by `npm run cluster:up -- --sites`. */
    sitesReused: boolean;
    /** kubectl built at the control planes' Kubernetes version. */
    sitesKubectl: string;
  }
}

/** The sites every multi-site test may use. */
export const SITES: SiteSpec[] = [
  { name: 'primary', profile: 'full' },
  { name: 'standby', profile: 'full' },
  { name: 'witness', profile: 'api' },
];

const RUN_DIR_PREFIX = 'standby-sites-';

async function reusable(): Promise<boolean> {
  const state = await readSites(defaultStateDir);
  if (!state || state.owner !== 'cluster:up') return false;
  const missing = SITES.filter((s) => !state.sites.some((x) => x.name === s.name && x.profile === s.profile));
  if (missing.length > 0) {
    log(`sites: not reusing .cluster/: it lacks ${missing.map((s) => `${s.name}:${s.profile}`).join(', ')}`);
    return false;
  }
  const bad = Object.entries(await sitesHealth(state)).filter(([, h]) => !h.ok);
  if (bad.length > 0) {
    log(`sites: not reusing .cluster/: ${bad.map(([n]) => n).join(', ')} not healthy`);
    return false;
  }
  return true;
}

/** Stops harnesses of earlier runs whose vitest died without its teardown. */
async function reapStaleRuns(): Promise<void> {
  for (const name of await readdir(tmpdir()).catch(() => [])) {
    if (!name.startsWith(RUN_DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    const state = await readSites(dir);
    if (!state || ownerAlive(state)) continue;
    log(`sites: stopping the sites of a run that ended without teardown (${dir})`);
    await teardownSites(dir);
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { bin } = await buildBinaries();
  project.provide('sitesKubectl', bin.kubectl);
  if (await reusable()) {
    log('sites: reusing the sites from `npm run cluster:up -- --sites` (left running)');
    project.provide('sitesDir', defaultStateDir);
    project.provide('sitesReused', true);
    return () => Promise.resolve();
  }
  await reapStaleRuns();
  const dir = await mkdtemp(join(tmpdir(), RUN_DIR_PREFIX));
  log(`sites: starting ${SITES.map((s) => s.name).join(', ')} in ${dir}`);
  await startSites({ stateDir: dir, owner: 'vitest', sites: SITES });
  project.provide('sitesDir', dir);
  project.provide('sitesReused', false);
  return async () => {
    await teardownSites(dir, { keepLogs: process.env.STANDBY_E2E_KEEP_STATE === '1' });
    log('sites: stopped');
  };
}
