import { describe, expect, test } from 'vitest';
import {
  ensureSlotSql,
  ensureSynchronousSql,
  likePrefix,
  promoteSql,
  quoteIdent,
  quoteLiteral,
  releaseSynchronousSql,
  synchronousStandbyNames,
} from '../../../../src/engines/postgresql/sql.ts';

describe('the engine’s SQL', () => {
  test('literals and identifiers are quoted', () => {
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(quoteIdent('a"b')).toBe('"a""b"');
  });

  test('synchronous mode waits for replica 0 only', () => {
    expect(synchronousStandbyNames('standby_orders_db_0')).toBe('FIRST 1 ("standby_orders_db_0")');
    const ensure = ensureSynchronousSql('FIRST 1 ("s_0")');
    expect(ensure).toContain(`'ALTER SYSTEM SET synchronous_standby_names = ''FIRST 1 ("s_0")'''`);
    expect(ensure).toContain(`IS DISTINCT FROM 'FIRST 1 ("s_0")'`);
    expect(ensure.endsWith('\\gexec')).toBe(true);
    // Switching the mode off removes only the engine's own value.
    expect(releaseSynchronousSql('FIRST 1 ("s_0")')).toContain(`WHERE current_setting('synchronous_standby_names') = 'FIRST 1 ("s_0")'`);
  });

  test('the slot is created once, with WAL reserved at once, and recreated when its WAL is lost', () => {
    const sql = ensureSlotSql();
    expect(sql).toContain("pg_create_physical_replication_slot(:'slot', true) WHERE NOT EXISTS");
    expect(sql).toContain("wal_status = 'lost' AND NOT active");
  });

  test('promotion waits inside the server and is idempotent', () => {
    expect(promoteSql(60)).toBe('SELECT CASE WHEN pg_is_in_recovery() THEN pg_promote(wait => true, wait_seconds => 60) ELSE true END');
    expect(promoteSql(0.2)).toContain('wait_seconds => 1)');
  });

  test('LIKE prefixes escape the wildcard underscore', () => {
    expect(likePrefix('standby_orders_db_')).toBe('standby\\_orders\\_db\\_%');
  });
});
