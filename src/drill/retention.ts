// What retention must keep while a drill runs: the copy run (warm) or snapshot set (cold) it
// restores from. Pure; read by the controller's copy pruning and the snapshot Job's.
import type { SiteStatus } from '../api/status.ts';

export function inUseByDrill(status: SiteStatus | undefined): Set<string> {
  const run = status?.drill?.sourceRun;
  return new Set(run ? [run] : []);
}
