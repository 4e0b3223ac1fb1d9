// Measuring the hot standby from the primary's own replication views, with
// the `pg` client, through the ready addresses of the primary's Service.
// When the primary cannot be reached (exactly when a promotion needs the
// lag), replica 0 is asked how far its WAL reaches, through the standby's
// headless Service. Never throws: anything wrong becomes a problem sentence.
import pg from 'pg';
import { names } from '../../site/names.ts';
import type { EngineContext, EngineIO, EngineObservation } from '../engine.ts';
import { describeError, isAuthError, wantsTls, type PgErrorLike } from './errors.ts';
import { assessReplication, assessWithoutPrimary, type LastSeen, type ReplicationRow, type SlotRow, type StandbyRow } from './lag.ts';
import { readCredentials } from './secrets.ts';
import { pgSpec, SECRET_FIELDS, slotPrefix, standbySlots } from './settings.ts';
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

interface Login {
  user: string;
  password: string;
  database: string;
  port: number;
  timeoutMs: number;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: PgErrorLike };

async function withClientOnce<T>(host: string, l: Login, tls: boolean, fn: (c: pg.Client) => Promise<T>): Promise<Outcome<T>> {
  const client = new pg.Client({
    host,
    port: l.port,
    user: l.user,
    password: l.password,
    database: l.database,
    application_name: 'standby-operator',
    connectionTimeoutMillis: l.timeoutMs,
    query_timeout: l.timeoutMs,
    statement_timeout: l.timeoutMs,
    // Encryption without verification, as libpq's default sslmode=prefer does, for servers that require TLS.
    ssl: tls ? { rejectUnauthorized: false } : false,
  });
  // A connection that breaks while idle emits 'error'; unhandled, it would end the operator.
  client.on('error', () => undefined);
  try {
    await client.connect();
    return { ok: true, value: await fn(client) };
  } catch (err) {
    return { ok: false, error: err as PgErrorLike };
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function withClient<T>(host: string, l: Login, fn: (c: pg.Client) => Promise<T>): Promise<Outcome<T>> {
  const plain = await withClientOnce(host, l, false, fn);
  return !plain.ok && wantsTls(plain.error) ? withClientOnce(host, l, true, fn) : plain;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Errors that mean the server is not there (rather than refusing us). */
function isUnreachable(e: PgErrorLike): boolean {
  return !e.code || !/^[0-9A-Z]{5}$/.test(e.code) || e.code === '57P03';
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

async function readPrimary(ctx: EngineContext, io: EngineIO, login: Login, o: ObserveOptions, expected: string[]): Promise<PrimaryResult> {
  const ns = ctx.site.metadata.namespace;
  const service = ctx.site.spec.primary.service;
  let addresses: string[];
  try {
    addresses = await io.endpoints(ns, service);
  } catch (err) {
    return { kind: 'problem', problem: `cannot list the endpoints of the primary Service ${service}: ${(err as Error).message}` };
  }
  if (addresses.length === 0) return { kind: 'unreachable', reason: `the primary Service ${service} has no ready endpoints` };
  const prefix = slotPrefix(ctx.site.metadata.name);
  let first: { error: PgErrorLike; host: string } | undefined;
  for (const host of addresses.slice(0, o.maxAddresses ?? 3)) {
    const out = await withClient(host, login, async (c): Promise<PrimaryView> => {
      const state = (await c.query<{ in_recovery: boolean; current_lsn: string | null }>(PRIMARY_STATE_SQL)).rows[0];
      if (state?.in_recovery !== false) return { inRecovery: true, currentLsn: null, rows: [], slots: [] };
      const rows = await c.query<ReplicationRow>(REPLICATION_SQL, [expected]);
      const slots = await c.query<SlotRow>(SLOTS_SQL, [expected, likePrefix(`${prefix}_`)]);
      return { inRecovery: false, currentLsn: state.current_lsn, rows: rows.rows, slots: slots.rows };
    });
    if (out.ok) return { kind: 'measured', host, view: out.value };
    first ??= { error: out.error, host };
    // Other addresses serve the same server with the same credentials.
    if (isAuthError(out.error)) break;
  }
  const e = first!;
  const sentence = describeError(e.error, {
    address: hostPort(e.host, login.port),
    role: login.user,
    secret: pgSpec(ctx.site).replicationSecret,
    secretField: SECRET_FIELDS.replication,
  });
  return isUnreachable(e.error) ? { kind: 'unreachable', reason: sentence } : { kind: 'problem', problem: sentence };
}

/** Replica 0's own view through the standby's headless Service (its slot name tells which pod is replica 0). */
async function readStandby(
  ctx: EngineContext,
  io: EngineIO,
  login: Login,
  o: ObserveOptions,
  target: string,
  last: LastSeen | undefined,
): Promise<{ row: StandbyRow } | { problem: string }> {
  const service = names.standbyService(ctx.site.metadata.name);
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
        server: 'standby',
      });
    }
  }
  return { problem: first ?? `no pod behind Service ${service} is replica ${target}` };
}

export async function observeReplication(ctx: EngineContext, io: EngineIO, o: ObserveOptions = {}): Promise<EngineObservation> {
  try {
    const spec = pgSpec(ctx.site);
    const now = o.now ?? (() => new Date());
    const creds = await readCredentials(io, ctx.site.metadata.namespace, spec.replicationSecret, SECRET_FIELDS.replication);
    if (!creds.ok) return { problem: creds.problem };
    const login: Login = { user: creds.username, password: creds.password, database: spec.database, port: spec.port, timeoutMs: o.timeoutMs ?? 5000 };
    const expected = standbySlots(ctx.site, ctx.primary);
    const target = expected[0]!;
    const key = `${ctx.site.metadata.namespace}/${ctx.site.metadata.name}/${ctx.site.metadata.uid ?? ''}`;

    const primary = await readPrimary(ctx, io, login, o, expected);
    if (primary.kind === 'problem') return { problem: primary.problem };
    if (primary.kind === 'unreachable') {
      const last = lastSeen.get(key);
      const standby = await readStandby(ctx, io, login, o, target, last);
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
      expected,
      synchronous: spec.synchronous,
      role: creds.username,
      secret: spec.replicationSecret,
    });
    if (obs.lagSeconds !== undefined && view.currentLsn) lastSeen.set(key, { lsn: view.currentLsn, at: now(), lagSeconds: obs.lagSeconds });
    return obs;
  } catch (err) {
    return { problem: `measuring replication failed: ${(err as Error).message}` };
  }
}
