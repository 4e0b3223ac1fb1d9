// vitest globalSetup of the `sites` project (multi-site tests). Picks the harness folder and
// stops what runs there at teardown; the sites themselves start on first use, from the test
// file that needs them (`useSites()` in ./site-helpers.ts), so they do not idle through the
// other projects' runs (globalSetups all run before any test). Sites of
// `npm run cluster:up -- --sites primary,standby,witness` are reused and left running when
// they are all healthy. STANDBY_E2E_KEEP_STATE=1 keeps a run's folder with its logs.
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { buildBinaries } from './build.ts';
import { defaultStateDir, log } from './common.ts';
import { ownerAlive, readSites, sitesHealth, teardownSites, type SiteSpec } from './sites.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** State folder of the multi-site harness (sites.json, <site>/kubeconfig). */
    sitesDir: string;
    /** Whether the tests run against sites started by `npm run cluster:up -- --sites`. */
    sitesReused: boolean;
    /** kubectl built at the control planes' Kubernetes version. */
    sitesKubectl: string;
    /** The vitest process (owner of the sites a test file starts). */
    sitesOwnerPid: number;
  }
}

/** The sites every multi-site test may use. */
export const SITES: SiteSpec[] = [
  { name: 'primary', profile: 'full' },
  { name: 'standby', profile: 'full' },
  { name: 'witness', profile: 'api' },
];

export const RUN_DIR_PREFIX = 'standby-sites-';

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
  project.provide('sitesOwnerPid', process.pid);
  if (await reusable()) {
    log('sites: reusing the sites from `npm run cluster:up -- --sites` (left running)');
    project.provide('sitesDir', defaultStateDir);
    project.provide('sitesReused', true);
    return () => Promise.resolve();
  }
  await reapStaleRuns();
  const dir = await mkdtemp(join(tmpdir(), RUN_DIR_PREFIX));
  project.provide('sitesDir', dir);
  project.provide('sitesReused', false);
  return async () => {
    if (!(await readSites(dir))) return; // no test file needed the sites
    await teardownSites(dir, { keepLogs: process.env.STANDBY_E2E_KEEP_STATE === '1' });
    log('sites: stopped');
  };
}
