// The scripts' options as the pod templates use them, derived from the site;
// the tests take these and point only the addresses and directories at their
// loopback servers.
import { parseDuration } from '../../api/duration.ts';
import { isStatefulSet } from '../../site/workload.ts';
import type { EngineContext } from '../engine.ts';
import type { StandbyBootstrapOptions } from './script-bootstrap.ts';
import type { DrillCopyOptions, DrillVerifyOptions } from './script-drill.ts';
import type { DumpOptions } from './script-dump.ts';
import { TERMINATION_LOG } from './script-parts.ts';
import type { PromoteOptions } from './script-promote.ts';
import type { ReprotectOptions } from './script-reprotect.ts';
import type { RestoreOptions } from './script-restore.ts';
import type { WarmCopyOptions } from './script-warm-copy.ts';
import { managedSynchronousNames, pgSpec, primaryAddress, primarySlot, slotPrefix, standbyAddress } from './settings.ts';

/** Where the dump PVC is mounted in the dump and restore Jobs. */
export const DUMP_MOUNT = '/var/lib/standby-operator/dumps';

export function bootstrapOptions(ctx: EngineContext): StandbyBootstrapOptions {
  const spec = pgSpec(ctx.site);
  return {
    primary: primaryAddress(ctx),
    dataDirectory: spec.dataDirectory,
    slotPrefix: slotPrefix(ctx.site.metadata.name),
    ordinalFromPodName: isStatefulSet(ctx.primary),
    synchronous: { enabled: spec.synchronous, value: managedSynchronousNames(ctx.site) },
  };
}

export function warmCopyOptions(ctx: EngineContext): WarmCopyOptions {
  return {
    primary: primaryAddress(ctx),
    dataDirectory: pgSpec(ctx.site).dataDirectory,
    applicationName: `${slotPrefix(ctx.site.metadata.name)}_sync`,
  };
}

export function dumpOptions(ctx: EngineContext): DumpOptions {
  const r = ctx.site.spec.cold?.retention;
  const maxAgeMs = r?.maxAge ? parseDuration(r.maxAge) : undefined;
  return {
    primary: primaryAddress(ctx),
    directory: DUMP_MOUNT,
    retention: { keepLast: r?.keepLast, maxAgeSeconds: maxAgeMs !== undefined ? Math.floor(maxAgeMs / 1000) : undefined },
  };
}

export function restoreOptions(ctx: EngineContext): RestoreOptions {
  const spec = pgSpec(ctx.site);
  return { directory: DUMP_MOUNT, dataDirectory: spec.dataDirectory, database: spec.database };
}

function stepTimeoutSeconds(ctx: EngineContext): number {
  return (parseDuration(ctx.site.spec.promotion.stepTimeout) ?? 300_000) / 1000;
}

export function drillCopyOptions(ctx: EngineContext): DrillCopyOptions {
  return {
    standby: standbyAddress(ctx),
    dataDirectory: pgSpec(ctx.site).dataDirectory,
    applicationName: `${slotPrefix(ctx.site.metadata.name)}_drill`,
  };
}

export function drillVerifyOptions(ctx: EngineContext): DrillVerifyOptions {
  const spec = pgSpec(ctx.site);
  const timeoutMs = parseDuration(ctx.site.spec.drill?.timeout ?? '15m') ?? 900_000;
  return { port: spec.port, database: spec.database, timeoutSeconds: timeoutMs / 1000, terminationLog: TERMINATION_LOG };
}

export function promoteOptions(ctx: EngineContext): PromoteOptions {
  return { standby: standbyAddress(ctx), timeoutSeconds: stepTimeoutSeconds(ctx) };
}

/** The failback's promotion: the re-protected primary, through its own Service; its standby settings are removed once promoted. */
export function failbackOptions(ctx: EngineContext): PromoteOptions {
  return { standby: primaryAddress(ctx), timeoutSeconds: stepTimeoutSeconds(ctx), resetStandbySettings: true };
}

/** The re-protection of the primary's data directory as a standby of replica 0 of the standby, through the primary's own slot there. */
export function reprotectOptions(ctx: EngineContext): ReprotectOptions {
  return { serving: standbyAddress(ctx), dataDirectory: pgSpec(ctx.site).dataDirectory, slot: primarySlot(ctx.site), timeoutSeconds: stepTimeoutSeconds(ctx) };
}
