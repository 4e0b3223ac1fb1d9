// status.cost: what a site's protection reserves and keeps, and what it would on each tier
// (computed by src/cost/). Its own file: the status schema is long enough without it.
import { z } from 'zod';

const cpuCores = z.number().min(0);
const byteCount = z.number().int().min(0);

const tierCost = z
  .object({
    cpu: cpuCores.meta({ description: 'CPU cores the standby\'s pods would request while standing by.' }),
    memory: byteCount.meta({ description: 'Bytes of memory they would request.' }),
    storage: byteCount.meta({ description: 'Bytes of storage the copies, snapshots or dumps would hold (an estimate from the primary\'s claims).' }),
  })
  .meta({ description: 'What the site would reserve on one tier.' });

export const siteCost = z
  .object({
    cpu: cpuCores.meta({ description: "CPU cores requested by the standby's pods that exist now (hot: its replicas; warm at 0 replicas and cold: 0)." }),
    memory: byteCount.meta({ description: "Bytes of memory requested by the standby's pods that exist now." }),
    storage: byteCount.meta({
      description:
        "Bytes held by the copies, snapshots and dumps the site keeps: its claims' capacity (or requested size until bound) and its VolumeSnapshots' restoreSize.",
    }),
    whatIf: z
      .object({ cold: tierCost, warm: tierCost, hot: tierCost })
      .optional()
      .meta({
        description:
          "What the same site would reserve as cold, warm and hot, from its spec and the primary's pod template and claims: hot runs spec.hot.replicas pods (1 by default) on volumes of their own; warm runs none and keeps one copy (and, method volumeSnapshot, the snapshots of its last two syncs); cold runs none and keeps its retained snapshot sets (at most the volumes' size each) or one dump volume (method engine; a Job's own storage, method job, is not counted).",
      }),
  })
  .meta({ description: "The cost of the site's protection, as numbers: requests (cores, bytes) and storage (bytes)." });

export type SiteCost = z.infer<typeof siteCost>;
export type TierCost = z.infer<typeof tierCost>;
