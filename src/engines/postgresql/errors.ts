// Errors from connecting to and querying the primary, as sentences a person
// can act on. Pure.

/** What `pg` and node:net put on the errors they raise. */
export interface PgErrorLike {
  message?: string;
  /** SQLSTATE (server errors) or errno code (ECONNREFUSED...). */
  code?: string;
  syscall?: string;
}

export interface ErrorContext {
  /** ip:port tried. */
  address: string;
  role: string;
  secret: string;
  /** spec field naming the Secret. */
  secretField: string;
  /** Which server was tried; default primary. */
  server?: 'primary' | 'standby';
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/** Whether the error is about the credentials (trying another address of the same server cannot help). */
export function isAuthError(e: PgErrorLike): boolean {
  return e.code === '28P01' || e.code === '28000';
}

/** Whether the server refused a connection without TLS (pg_hba.conf has only hostssl lines for it). */
export function wantsTls(e: PgErrorLike): boolean {
  return e.code === '28000' && /no encryption/.test(e.message ?? '');
}

export function describeError(e: PgErrorLike, c: ErrorContext): string {
  const message = (e.message ?? 'unknown error').trim();
  const server = c.server ?? 'primary';
  switch (e.code) {
    case '28P01':
      return `PostgreSQL refused the credentials in Secret ${c.secret}: ${message}`;
    case '28000':
      return `PostgreSQL at ${c.address} refused the connection: ${message}; allow role "${c.role}" in the ${server}'s pg_hba.conf`;
    case '3D000':
      return `PostgreSQL at ${c.address}: ${message}; set spec.engine.postgresql.database to a database that exists`;
    case '42501':
      return `role "${c.role}" (Secret ${c.secret}) lacks a privilege on the primary: ${message}`;
    case '55000':
      return `the server at ${c.address} is not a primary: ${message}; spec.primary.service must select the primary's pods`;
    case '57P03':
      return `PostgreSQL at ${c.address} is starting up or shutting down: ${message}`;
  }
  if (e.code && NETWORK_CODES.has(e.code)) {
    return `cannot reach the ${server} at ${c.address}: ${e.syscall ? `${e.syscall} ` : ''}${e.code}`;
  }
  if (/timeout/i.test(message)) return `cannot reach the ${server} at ${c.address}: no answer within the timeout (${message})`;
  return `PostgreSQL at ${c.address}: ${message}`;
}
