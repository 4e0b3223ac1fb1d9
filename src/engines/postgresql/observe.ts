// Measuring the hot standby from the primary's own replication views, with
// the `pg` client, through the ready addresses of the primary's Service.
// When the primary cannot be reached (exactly when a promotion needs the
// lag), replica 0 is asked how far its WAL reaches, through the standby's
// headless Service. After a failover and re-protection the roles swap: the
// promoted standby is measured streaming to the re-protected primary.
// Never throws: anything wrong becomes a problem sentence.
import type { EngineContext, EngineIO, EngineObservation } from '../engine.ts';
import { hostPort, isUnreachable, withClient, type Login } from './connect.ts';
import { crossSiteEndpoint, describeTlsError, readEndpointCa, verifyFullTls } from './endpoint.ts';
import { describeError, isAuthError, type PgErrorLike } from './errors.ts';
import { assessReplication, assessWithoutPrimary, type LastSeen, type ReplicationRow, type SlotRow, type StandbyRow } from './lag.ts';
import { readCredentials } from './secrets.ts';
import { pgSpec, SECRET_FIELDS, sidesOf, slotPrefix, type Sides } from './settings.ts';
import { likePrefix, PRIMARY_STATE_SQL, REPLICATION_SQL, SLOTS_SQL, STANDBY_STATE_SQL } from './sql.ts';

export interface ObserveOptions {
  /** Per connection attempt and per query. */
  timeoutMs?: number;
  /** At most this many of a Service's addresses are tried. */
  maxAddresses?: number;
  now?: () => Date;
}

/** The primary's last position and lag per site, for judging replica 0 when the primary is gone. In memory: lost on restart. */
const lastSeen = new Map<string, LastSeen>();

/** Forgets what was seen of the primaries (tests). */
export function forgetPrimaries(): void {
  lastSeen.clear();
}

interface PrimaryView {
  inRecovery: boolean;
  currentLsn: string | null;
  rows: ReplicationRow[];
  slots: SlotRow[];
}

type PrimaryResult =
  | { kind: 'measured'; host: string; view: PrimaryView }
  | { kind: 'unreachable'; reason: string }
  | { kind: 'problem'; problem: string };

async function readPrimary(ctx: EngineContext, io: EngineIO, login: Login, o: ObserveOptions, sides: Sides): Promise<PrimaryResult> {
  const ns = ctx.site.metadata.namespace;
  const service = sides.servingService;
  // A primary in another cluster: its endpoint across sites, verify-full against the CA (endpoint.ts).
  const endpoint = sides.serving === 'primary' ? crossSiteEndpoint(ctx.site) : undefined;
  if (endpoint) {
    const ca = await readEndpointCa(io, ns, endpoint);
    if (!ca.ok) return { kind: 'problem', problem: ca.problem };
    login = { ...login, port: endpoint.port, tls: verifyFullTls(ca.ca, endpoint.host) };
  }
  let addresses: string[];
  try {
    addresses = endpoint ? [endpoint.host] : await io.endpoints(ns, service);
  } catch (err) {
    return { kind: 'problem', problem: `cannot list the endpoints of the ${serviceRole(sides)} Service ${service}: ${(err as Error).message}` };
  }
  if (addresses.length === 0) return { kind: 'unreachable', reason: `the ${serviceRole(sides)} Service ${service} has no ready endpoints` };
  const prefix = slotPrefix(ctx.site.metadata.name);
  // The standby's Service also leads to its replicas 1..n, which are in recovery: try them all.
  const tries = sides.servingSharesService ? (o.maxAddresses ?? 3) + 16 : (o.maxAddresses ?? 3);
  let first: { error: PgErrorLike; host: string } | undefined;
  let standby: string | undefined;
  for (const host of addresses.slice(0, tries)) {
    const out = await withClient(host, login, async (c): Promise<PrimaryView> => {
      const state = (await c.query<{ in_recovery: boolean; current_lsn: string | null }>(PRIMARY_STATE_SQL)).rows[0];
      if (state?.in_recovery !== false) return { inRecovery: true, currentLsn: null, rows: [], slots: [] };
      const rows = await c.query<ReplicationRow>(REPLICATION_SQL, [sides.followers]);
      const slots = await c.query<SlotRow>(SLOTS_SQL, [sides.followers, likePrefix(`${prefix}_`)]);
      return { inRecovery: false, currentLsn: state.current_lsn, rows: rows.rows, slots: slots.rows };
    });
    if (out.ok && out.value.inRecovery && sides.servingSharesService) {
      standby ??= host;
      continue;
    }
    if (out.ok) return { kind: 'measured', host, view: out.value };
    first ??= { error: out.error, host };
    // Other addresses serve the same server with the same credentials.
    if (isAuthError(out.error)) break;
  }
  if (!first) {
    return { kind: 'problem', problem: `no server behind Service ${service} is out of recovery (${standby ?? 'none'} is a standby): the standby has not been promoted` };
  }
  const e = first;
  const tlsProblem = endpoint && describeTlsError(e.error, endpoint);
  if (tlsProblem) return { kind: 'problem', problem: tlsProblem };
  const sentence = describeError(e.error, {
    address: hostPort(e.host, login.port),
    role: login.user,
    secret: pgSpec(ctx.site).replicationSecret,
    secretField: SECRET_FIELDS.replication,
    ...(sides.serving === 'standby' ? { server: 'standby' as const } : {}),
  });
  return isUnreachable(e.error) ? { kind: 'unreachable', reason: sentence } : { kind: 'problem', problem: sentence };
}

function serviceRole(sides: Sides): string {
  return sides.serving === 'primary' ? 'primary' : 'serving standby';
}

/** The follower that would take over, by its own view through its Service (its slot name tells which server it is). */
async function readStandby(
  ctx: EngineContext,
  io: EngineIO,
  login: Login,
  o: ObserveOptions,
  sides: Sides,
  last: LastSeen | undefined,
): Promise<{ row: StandbyRow } | { problem: string }> {
  const service = sides.followerService;
  const target = sides.followers[0]!;
  let addresses: string[];
  try {
    addresses = await io.endpoints(ctx.site.metadata.namespace, service);
  } catch (err) {
    return { problem: `cannot list the endpoints of Service ${service}: ${(err as Error).message}` };
  }
  if (addresses.length === 0) return { problem: `Service ${service} has no endpoints` };
  let first: string | undefined;
  for (const host of addresses.slice(0, (o.maxAddresses ?? 3) + 16)) {
    const out = await withClient(host, login, async (c) => (await c.query<StandbyRow>(STANDBY_STATE_SQL, [last?.lsn ?? null])).rows[0]);
    if (out.ok && out.value?.slot_name === target) return { row: out.value };
    if (!out.ok) {
      first ??= describeError(out.error, {
        address: hostPort(host, login.port),
        role: login.user,
        secret: pgSpec(ctx.site).replicationSecret,
        secretField: SECRET_FIELDS.replication,
        server: sides.serving === 'primary' ? 'standby' : 'primary',
      });
    }
  }
  return { problem: first ?? `no pod behind Service ${service} is replica ${target}` };
}

/**
 * Measures the replication of the serving side to the one that would take
 * over: the declared primary to replica 0 of the standby, or, after a
 * failover and re-protection (ctx.serving standby), the promoted standby to
 * the re-protected primary.
 */
export async function observeReplication(ctx: EngineContext, io: EngineIO, o: ObserveOptions = {}): Promise<EngineObservation> {
  try {
    const spec = pgSpec(ctx.site);
    const now = o.now ?? (() => new Date());
    const creds = await readCredentials(io, ctx.site.metadata.namespace, spec.replicationSecret, SECRET_FIELDS.replication);
    if (!creds.ok) return { problem: creds.problem };
    const login: Login = { user: creds.username, password: creds.password, database: spec.database, port: spec.port, timeoutMs: o.timeoutMs ?? 5000 };
    const sides = sidesOf(ctx);
    const target = sides.followers[0]!;
    // Positions of different sides are on different timelines: never judge one by the other's.
    const key = `${ctx.site.metadata.namespace}/${ctx.site.metadata.name}/${ctx.site.metadata.uid ?? ''}/${sides.serving}`;

    const primary = await readPrimary(ctx, io, login, o, sides);
    if (primary.kind === 'problem') return { problem: primary.problem };
    if (primary.kind === 'unreachable') {
      const last = lastSeen.get(key);
      const standby = await readStandby(ctx, io, login, o, sides, last);
      return assessWithoutPrimary({ reason: primary.reason, target, standby, last, now: now() });
    }
    const { view, host } = primary;
    if (view.inRecovery) {
      return {
        problem: `the server at ${hostPort(host, spec.port)} is a standby (in recovery), not the primary; spec.primary.service must select the primary's pods`,
      };
    }
    const obs = assessReplication({
      rows: view.rows,
      slots: view.slots,
      expected: sides.followers,
      // Synchronous mode makes the declared primary wait for replica 0; the serving standby waits for nobody.
      synchronous: spec.synchronous && sides.serving === 'primary',
      role: creds.username,
      secret: spec.replicationSecret,
    });
    if (obs.lagSeconds !== undefined && view.currentLsn) lastSeen.set(key, { lsn: view.currentLsn, at: now(), lagSeconds: obs.lagSeconds });
    return obs;
  } catch (err) {
    return { problem: `measuring replication failed: ${(err as Error).message}` };
  }
}
