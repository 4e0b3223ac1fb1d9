// Connecting from the operator to the servers behind a Service's ready
// addresses with the `pg` client, one short-lived connection at a time, the
// way observe() measures replication and the lifecycle reads both sides.
// Never throws: failures come back as PgErrorLike.
import pg from 'pg';
import type { EngineIO } from '../engine.ts';
import { wantsTls, type PgErrorLike } from './errors.ts';

export interface Login {
  user: string;
  password: string;
  database: string;
  port: number;
  timeoutMs: number;
  /** A server across sites: TLS verified as sslmode=verify-full does (endpoint.ts), never in the clear. */
  tls?: { ca: string; rejectUnauthorized: true; servername?: string; host?: string };
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: PgErrorLike };

async function withClientOnce<T>(host: string, l: Login, tls: boolean | NonNullable<Login['tls']>, fn: (c: pg.Client) => Promise<T>): Promise<Outcome<T>> {
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
    ssl: typeof tls === 'object' ? tls : tls ? { rejectUnauthorized: false } : false,
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

export async function withClient<T>(host: string, l: Login, fn: (c: pg.Client) => Promise<T>): Promise<Outcome<T>> {
  if (l.tls) return withClientOnce(host, l, l.tls, fn);
  const plain = await withClientOnce(host, l, false, fn);
  return !plain.ok && wantsTls(plain.error) ? withClientOnce(host, l, true, fn) : plain;
}

export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Errors that mean the server is not there (rather than refusing us). */
export function isUnreachable(e: PgErrorLike): boolean {
  return !e.code || !/^[0-9A-Z]{5}$/.test(e.code) || e.code === '57P03';
}

/** A Service's ready addresses, or a sentence saying why there are none. */
export async function addressesOf(io: EngineIO, namespace: string, service: string): Promise<{ addresses: string[] } | { problem: string }> {
  try {
    const addresses = await io.endpoints(namespace, service);
    return addresses.length ? { addresses } : { problem: `Service ${service} has no ready endpoints` };
  } catch (err) {
    return { problem: `cannot list the endpoints of Service ${service}: ${(err as Error).message}` };
  }
}
