import { describe, expect, test } from 'vitest';
import { describeError, isAuthError, wantsTls } from '../../../../src/engines/postgresql/errors.ts';

const c = { address: '10.0.0.5:5432', role: 'repl', secret: 'orders-db-repl', secretField: 'spec.engine.postgresql.replicationSecret' };

describe('errors as sentences', () => {
  test('bad credentials', () => {
    const e = { code: '28P01', message: 'password authentication failed for user "repl"' };
    expect(describeError(e, c)).toBe('PostgreSQL refused the credentials in Secret orders-db-repl: password authentication failed for user "repl"');
    expect(isAuthError(e)).toBe(true);
  });

  test('unreachable', () => {
    expect(describeError({ code: 'ECONNREFUSED', syscall: 'connect', message: 'connect ECONNREFUSED 10.0.0.5:5432' }, c)).toBe(
      'cannot reach the primary at 10.0.0.5:5432: connect ECONNREFUSED',
    );
    expect(describeError({ message: 'Connection terminated due to connection timeout' }, c)).toBe(
      'cannot reach the primary at 10.0.0.5:5432: no answer within the timeout (Connection terminated due to connection timeout)',
    );
  });

  test('pg_hba.conf, missing database, not a primary', () => {
    const hba = { code: '28000', message: 'no pg_hba.conf entry for host "10.0.0.9", user "repl", database "postgres", no encryption' };
    expect(describeError(hba, c)).toBe(
      `PostgreSQL at 10.0.0.5:5432 refused the connection: ${hba.message}; allow role "repl" in the primary's pg_hba.conf`,
    );
    expect(wantsTls(hba)).toBe(true);
    expect(wantsTls({ code: '28000', message: 'no pg_hba.conf entry for host "10.0.0.9", user "repl", database "postgres", SSL encryption' })).toBe(false);
    expect(describeError({ code: '3D000', message: 'database "shop" does not exist' }, c)).toContain('set spec.engine.postgresql.database');
  });
});
