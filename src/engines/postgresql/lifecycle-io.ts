// Re-protection and failback as the operator reads and acts on both sides,
// with the `pg` client through the ready addresses of their Services (as
// observe() does): what only the old primary holds, whether the side that
// takes over has caught up, and stopping or resuming writes on the serving
// side. Never throws: anything wrong becomes a sentence.
import type pg from 'pg';
import type { CaughtUp, Divergence, EngineContext, EngineIO, WriteSwitch } from '../engine.ts';
import { addressesOf, hostPort, withClient, type Login } from './connect.ts';
import { describeError, isAuthError, type PgErrorLike } from './errors.ts';
import {
  assessCaughtUp,
  assessDivergence,
  type OldPrimaryRow,
  type ReplayRow,
  type ServingFlushRow,
  type ServingHistoryRow,
} from './lifecycle.ts';
import { readCredentials } from './secrets.ts';
import { followerUnreachable, pgSpec, SECRET_FIELDS, sidesOf, superuserSecret } from './settings.ts';
import { OLD_PRIMARY_SQL, REPLAY_SQL, RESUME_WRITES_SQL, SERVING_FLUSH_SQL, SERVING_HISTORY_SQL, STOP_WRITES_SQL } from './sql.ts';

export interface LifecycleOptions {
  /** Per connection attempt and per query. */
  timeoutMs?: number;
}

type Read<T> = { row: T; where: string; host: string } | { problem: string };

interface As {
  login: Login;
  secret: string;
  field: string;
}

async function login(ctx: EngineContext, io: EngineIO, which: 'replication' | 'superuser', o: LifecycleOptions): Promise<As | { problem: string }> {
  const spec = pgSpec(ctx.site);
  const { name, field } = which === 'superuser' ? superuserSecret(spec) : { name: spec.replicationSecret, field: SECRET_FIELDS.replication };
  const c = await readCredentials(io, ctx.site.metadata.namespace, name, field);
  if (!c.ok) return { problem: c.problem };
  return {
    login: { user: c.username, password: c.password, database: spec.database, port: spec.port, timeoutMs: o.timeoutMs ?? 5000 },
    secret: name,
    field,
  };
}

/**
 * The first server behind a Service that `accept`s what `read` found on it
 * (e.g. the one out of recovery); `why` says what the others were when none did.
 */
async function firstServer<T>(
  ctx: EngineContext,
  io: EngineIO,
  as: As,
  service: string,
  read: (c: pg.Client) => Promise<T | undefined>,
  accept: (row: T) => boolean,
  why: (row: T) => string,
): Promise<Read<T>> {
  const found = await addressesOf(io, ctx.site.metadata.namespace, service);
  if ('problem' in found) return found;
  let error: { e: PgErrorLike; host: string } | undefined;
  const refused: string[] = [];
  for (const host of found.addresses.slice(0, 20)) {
    const out = await withClient(host, as.login, read);
    const where = hostPort(host, as.login.port);
    if (out.ok && out.value !== undefined && accept(out.value)) return { row: out.value, where, host };
    if (out.ok && out.value !== undefined) refused.push(`${where} ${why(out.value)}`);
    if (!out.ok) {
      error ??= { e: out.error, host };
      if (isAuthError(out.error)) break;
    }
  }
  if (error) {
    return {
      problem: describeError(error.e, { address: hostPort(error.host, as.login.port), role: as.login.user, secret: as.secret, secretField: as.field }),
    };
  }
  return { problem: `no server behind Service ${service} fits: ${refused.join('; ') || 'none answered'}` };
}

const one = async <T extends pg.QueryResultRow>(c: pg.Client, sql: string): Promise<T | undefined> => (await c.query<T>(sql)).rows[0];

/** The serving side: the server out of recovery behind its Service (the standby's Service also leads to its replicas 1..n). */
function readServing<T extends { in_recovery: boolean }>(ctx: EngineContext, io: EngineIO, as: As, sql: string): Promise<Read<T>> {
  const sides = sidesOf(ctx);
  return firstServer<T>(
    ctx,
    io,
    as,
    sides.servingService,
    (c) => one<T>(c, sql),
    (r) => !r.in_recovery || !sides.servingSharesService,
    () => 'is in recovery',
  );
}

/**
 * What only the side that is not serving (the old primary) holds, read
 * before re-protection while it runs behind the fence: its WAL beyond the
 * point where the serving side's timeline began. Reads with the superuser
 * Secret (the serving side's timeline history is a file only it may read).
 */
export async function divergence(ctx: EngineContext, io: EngineIO, o: LifecycleOptions = {}): Promise<Divergence> {
  try {
    const unreachable = followerUnreachable(ctx);
    if (unreachable) return { message: `the divergence cannot be measured: ${unreachable}; the re-protect Job reports it from the data directory` };
    const as = await login(ctx, io, 'superuser', o);
    if ('problem' in as) return { message: `the divergence cannot be measured: ${as.problem}` };
    const sides = sidesOf(ctx);
    const serving = await readServing<ServingHistoryRow>(ctx, io, as, SERVING_HISTORY_SQL);
    // The old primary: the server behind the other Service that is not in recovery yet (or any, when all are).
    const old = await firstServer<OldPrimaryRow>(
      ctx,
      io,
      as,
      sides.followerService,
      (c) => one<OldPrimaryRow>(c, OLD_PRIMARY_SQL),
      (r) => !r.in_recovery || sides.serving === 'standby',
      () => 'is in recovery',
    );
    return assessDivergence({ old, serving });
  } catch (err) {
    return { message: `measuring the divergence failed: ${(err as Error).message}` };
  }
}

/**
 * Whether the side that is not serving has replayed everything the serving
 * side flushed, for a failback after the serving side's writes stopped.
 * Reads with the replication Secret (pg_monitor shows other sessions'
 * transaction ids). The follower is found by its slot name, so that of the
 * standby's replicas only replica 0 can be the one that takes over.
 */
export async function caughtUp(ctx: EngineContext, io: EngineIO, o: LifecycleOptions = {}): Promise<CaughtUp> {
  try {
    const unreachable = followerUnreachable(ctx);
    if (unreachable) return { caughtUp: false, message: unreachable };
    const as = await login(ctx, io, 'replication', o);
    if ('problem' in as) return { caughtUp: false, message: as.problem };
    const sides = sidesOf(ctx);
    // The serving side first: its flush position counts only once it has stopped writing.
    const serving = await readServing<ServingFlushRow>(ctx, io, as, SERVING_FLUSH_SQL);
    const taking = await firstServer<ReplayRow>(
      ctx,
      io,
      as,
      sides.followerService,
      (c) => one<ReplayRow>(c, REPLAY_SQL),
      (r) => !r.in_recovery || r.slot_name === sides.followers[0],
      (r) => `streams through slot ${r.slot_name || 'none'}, not ${sides.followers[0]!}`,
    );
    return assessCaughtUp({ serving, taking });
  } catch (err) {
    return { caughtUp: false, message: `checking the failback's catch-up failed: ${(err as Error).message}` };
  }
}

/**
 * Stops (writable false) or resumes writes on the serving side. Stopping:
 * new transactions default to read-only and every other client session is
 * ended. It backs the network fence, which need not cut connections it
 * finds open; a client that asks for a read-write transaction explicitly is
 * refused only by the fence. Needs the superuser Secret.
 */
export async function setWritable(ctx: EngineContext, io: EngineIO, writable: boolean, o: LifecycleOptions = {}): Promise<WriteSwitch> {
  try {
    const as = await login(ctx, io, 'superuser', o);
    if ('problem' in as) return { ok: false, message: as.problem };
    const statements = writable ? RESUME_WRITES_SQL : STOP_WRITES_SQL;
    let terminated: number | undefined;
    const done = await readServing<{ in_recovery: boolean }>(ctx, io, as, 'SELECT pg_is_in_recovery() AS in_recovery');
    if ('problem' in done) return { ok: false, message: `cannot reach the serving side: ${done.problem}` };
    const out = await withClient(done.host, as.login, async (c) => {
      for (const sql of statements) {
        const r = await c.query<{ terminated?: number }>(sql);
        if (r.rows[0]?.terminated !== undefined) terminated = r.rows[0].terminated;
      }
    });
    if (!out.ok) {
      return {
        ok: false,
        message: describeError(out.error, { address: done.where, role: as.login.user, secret: as.secret, secretField: as.field }),
      };
    }
    return writable
      ? { ok: true, message: `the serving side at ${done.where} takes writes again` }
      : {
          ok: true,
          terminated: terminated ?? 0,
          message: `the serving side at ${done.where} refuses writes: new transactions are read-only and ${terminated ?? 0} client session${terminated === 1 ? ' was' : 's were'} ended`,
        };
  } catch (err) {
    return { ok: false, message: `${writable ? 'resuming' : 'stopping'} writes failed: ${(err as Error).message}` };
  }
}
