// The built-in PostgreSQL engine. hot: standbys bootstrapped by pg_basebackup
// stream from the primary through physical replication slots, optionally
// synchronously; lag comes from pg_stat_replication; promotion is pg_promote();
// after a failover the old primary is rewound (pg_rewind) into a standby of
// the promoted one, and a failback promotes it back once it has replayed
// everything, the standby then rewinding itself into a standby again.
// warm: a verified base backup per sync. cold: logical dumps, restored into a
// fresh cluster on promotion. See README (PostgreSQL engine) for what the
// primary must allow.
import type { Engine } from '../engine.ts';
import { names } from '../../site/names.ts';
import { checkSite } from './check.ts';
import { engineObjects } from './objects.ts';
import { caughtUp, divergence, setWritable } from './lifecycle-io.ts';
import { observeReplication } from './observe.ts';
import { parseReprotectReport } from './report.ts';
import {
  copyTemplate,
  dumpTemplate,
  failbackTemplate,
  promoteTemplate,
  reprotectTemplate,
  restoreTemplate,
  standbyTemplate,
} from './templates.ts';

export const postgresqlEngine: Engine = {
  type: 'postgresql',
  measuresLag: true,
  standbyTemplate,
  copyTemplate,
  dumpTemplate,
  restoreTemplate,
  promoteTemplate,
  objects: engineObjects,
  // Only replica 0 is promoted; the other hot replicas keep following the old primary and must not
  // receive writes. (A Deployment's pods have no stable name: its standby runs one replica.)
  promotedSelector: (ctx): Record<string, string> =>
    ctx.tier === 'hot' && ctx.primary.kind === 'StatefulSet'
      ? { 'statefulset.kubernetes.io/pod-name': `${names.standby(ctx.site.metadata.name)}-0` }
      : {},
  check: checkSite,
  observe: (ctx, io) => observeReplication(ctx, io),
  reprotectTemplate,
  failbackTemplate,
  divergence: (ctx, io) => divergence(ctx, io),
  caughtUp: (ctx, io) => caughtUp(ctx, io),
  setWritable: (ctx, io, writable) => setWritable(ctx, io, writable),
  reprotectReport: parseReprotectReport,
};
