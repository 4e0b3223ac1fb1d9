// The partition suite's clients: one process writes uniquely numbered rows to every site's
// PostgreSQL server, as fast as each accepts them, and records when each acknowledged write was
// sent and acknowledged on its one monotonic clock (the checker's input, test/sites/checker.ts).
// A write that times out or fails is not acknowledged, whatever the server did with it.
import pg from 'pg';
import type { Write } from '../checker.ts';

export interface Target {
  site: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database?: string;
}

export interface Writers {
  /** Stops writing and returns the acknowledged writes. */
  stop(): Promise<Write[]>;
}

let nextId = 1;

/** Ids are unique across every writer of the process, so one history holds all trials' writes. */
function id(): number {
  return nextId++;
}

export const WRITES_TABLE = 'partition_writes';

/** Starts one writer per target; each waits `pauseMs` between writes and gives up on a write after `timeoutMs`. */
export function startWriters(targets: readonly Target[], trial: number, o: { timeoutMs?: number; pauseMs?: number } = {}): Writers {
  const timeoutMs = o.timeoutMs ?? 1_000;
  const pauseMs = o.pauseMs ?? 20;
  const history: Write[] = [];
  let stopped = false;
  const one = async (t: Target): Promise<void> => {
    let client: pg.Client | undefined;
    while (!stopped) {
      try {
        if (!client) {
          const c = new pg.Client({ host: t.host, port: t.port, user: t.user, password: t.password, database: t.database ?? 'postgres', connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
          c.on('error', () => undefined);
          client = c;
          await c.connect();
        }
        const w = id();
        const sentAt = performance.now();
        await client.query(`INSERT INTO ${WRITES_TABLE} (id, trial, site) VALUES ($1, $2, $3)`, [w, trial, t.site]);
        history.push({ id: w, site: t.site, sentAt, ackedAt: performance.now() });
      } catch {
        // Not acknowledged. A timed-out session may be stuck behind a dropped path: start anew.
        const c = client;
        client = undefined;
        void c?.end().catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
    void client?.end().catch(() => undefined);
  };
  const running = targets.map(one);
  return {
    async stop() {
      stopped = true;
      await Promise.all(running);
      return history;
    },
  };
}
