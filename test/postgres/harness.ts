// Real PostgreSQL servers on loopback for the engine's tests and benchmark:
// each harness owns a temporary directory (data directories, sockets, logs)
// and every server it started, and removes them all in cleanup(). The
// server programs refuse to run as root, so they (and the engine's scripts)
// run as the `postgres` system user. No vitest import: bench/ uses it too.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export const SUPERUSER = { username: 'postgres', password: 'postgres-secret' };
export const REPLICATION = { username: 'repl', password: 'repl-secret' };

/** The newest installed PostgreSQL's bin directory (PG_BIN overrides). */
export function pgBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!majors[0]) throw new Error(`no PostgreSQL server under ${root}/*/bin: install the postgresql package (apt-get install postgresql)`);
  return join(root, majors[0], 'bin');
}

/** uid/gid of the postgres system user. */
function postgresUser(): { uid: number; gid: number } {
  let out: string;
  try {
    out = execFileSync('id', ['postgres'], { encoding: 'utf8' });
  } catch {
    throw new Error('no postgres system user: install the postgresql package (apt-get install postgresql) to run these tests');
  }
  const uid = /uid=(\d+)/.exec(out)?.[1];
  const gid = /gid=(\d+)/.exec(out)?.[1];
  return { uid: Number(uid), gid: Number(gid) };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Signals the postmaster of a data directory, if it still runs (its pid file names a process started on that directory). */
function signalServer(dataDir: string, signal: NodeJS.Signals): void {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (!(pid > 0)) return;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline.includes(dataDir)) process.kill(pid, signal);
  } catch {
    // not running
  }
}

/** Data directories of every server any harness in this process started, stopped if the process exits early. */
const live = new Set<string>();
process.once('exit', () => {
  for (const dir of live) signalServer(dir, 'SIGQUIT');
});

export interface ServerOptions {
  /** Extra postgresql.conf settings. */
  conf?: Record<string, string | number>;
}

export class PgServer {
  readonly h: PgHarness;
  readonly dataDir: string;
  /** The loopback address it listens on (127.0.0.2 lets a standby use the primary's port, as pods do). */
  readonly host: string;
  readonly port: number;
  readonly socketDir: string;
  readonly log: string;
  private readonly clients = new Set<pg.Client>();

  constructor(h: PgHarness, dataDir: string, host: string, port: number, id: number) {
    this.h = h;
    this.dataDir = dataDir;
    this.host = host;
    this.port = port;
    this.socketDir = join(h.root, `sock-${id}`);
    this.log = join(h.root, `server-${id}.log`);
  }

  async start(): Promise<void> {
    await mkdir(this.socketDir, { recursive: true });
    await this.h.chownTree(this.socketDir);
    const opts = `-p ${this.port} -c listen_addresses=${this.host} -c unix_socket_directories=${this.socketDir}`;
    const r = await this.h.asPostgres([join(this.h.bin, 'pg_ctl'), '-D', this.dataDir, '-l', this.log, '-w', '-t', '120', '-o', opts, 'start']);
    if (r.code !== 0) throw new Error(`pg_ctl start ${this.dataDir} failed: ${r.stderr || r.stdout}\n${this.logTail()}`);
    live.add(this.dataDir);
  }

  /** fast: a clean shutdown (standbys receive all WAL first); immediate: a crash. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    for (const c of this.clients) await c.end().catch(() => undefined);
    this.clients.clear();
    const r = await this.h.asPostgres([join(this.h.bin, 'pg_ctl'), '-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
    live.delete(this.dataDir);
    if (r.code !== 0 && !/Is server running/.test(r.stderr)) throw new Error(`pg_ctl stop failed: ${r.stderr}`);
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(this.log, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** A connected client over TCP (password authentication, as the engine connects). */
  async client(o: { user?: string; password?: string; database?: string } = {}): Promise<pg.Client> {
    const c = new pg.Client({
      host: this.host,
      port: this.port,
      user: o.user ?? SUPERUSER.username,
      password: o.password ?? SUPERUSER.password,
      database: o.database ?? 'postgres',
    });
    c.on('error', () => undefined);
    await c.connect();
    this.clients.add(c);
    return c;
  }

  /** Runs SQL as the superuser and returns the rows. */
  async query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params: unknown[] = [], database = 'postgres'): Promise<T[]> {
    const c = await this.client({ database });
    try {
      return (await c.query<T>(sql, params)).rows;
    } finally {
      this.clients.delete(c);
      await c.end();
    }
  }

  /** Waits until the server answers queries (a standby may take a moment after pg_ctl returns). */
  async waitReady(timeoutMs = 30_000): Promise<void> {
    await waitFor(async () => {
      try {
        await this.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    }, timeoutMs, `server on port ${this.port} to accept connections`);
  }
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('no port'));
      });
    });
  });
}

export class PgHarness {
  readonly bin: string;
  readonly root: string;
  private readonly user: { uid: number; gid: number };
  private readonly servers: PgServer[] = [];
  private readonly ports = new Set<number>();
  /** The network namespace (a site of the multi-site harness) every program runs in, if any. */
  readonly netns: string | undefined;

  private constructor(bin: string, root: string, user: { uid: number; gid: number }, netns: string | undefined) {
    this.bin = bin;
    this.root = root;
    this.user = user;
    this.netns = netns;
  }

  /** `netns`: run the servers and scripts inside that network namespace (`ip netns exec`). */
  static async create(o: { netns?: string } = {}): Promise<PgHarness> {
    const bin = pgBin();
    const user = postgresUser();
    const root = await mkdtemp(join(tmpdir(), 'pg-engine-'));
    await chmod(root, 0o755);
    const h = new PgHarness(bin, root, user, o.netns);
    await h.chownTree(root);
    return h;
  }

  /** The server's major version (e.g. 15). */
  get major(): number {
    return Number(/postgresql\/(\d+)\//.exec(`${this.bin}/`)?.[1] ?? 0);
  }

  async chownTree(path: string): Promise<void> {
    await chown(path, this.user.uid, this.user.gid);
  }

  /** A new directory owned by postgres under the harness root. */
  async dir(name: string): Promise<string> {
    const d = join(this.root, name);
    await mkdir(d, { recursive: true });
    await this.chownTree(d);
    return d;
  }

  async port(): Promise<number> {
    for (;;) {
      const p = await freePort();
      if (!this.ports.has(p)) {
        this.ports.add(p);
        return p;
      }
    }
  }

  /** Runs a program as the postgres user with a clean environment (PATH leads to the server's bin). */
  asPostgres(argv: string[], env: Record<string, string> = {}, timeoutMs = 600_000): Promise<RunResult> {
    const base = {
      PATH: `${this.bin}:/usr/local/bin:/usr/bin:/bin`,
      HOME: this.root,
      LANG: 'C.UTF-8',
      TZ: 'UTC',
    };
    const envArgs = Object.entries({ ...base, ...env }).map(([k, v]) => `${k}=${v}`);
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const asUser = ['runuser', '-u', 'postgres', '--', 'env', '-i', ...envArgs, ...argv];
      const [cmd = '', ...args] = this.netns === undefined ? asUser : ['ip', 'netns', 'exec', this.netns, ...asUser];
      const child = spawn(cmd, args, {
        cwd: this.root,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      });
    });
  }

  /** Runs one of the engine's scripts with /bin/sh, as a container would. */
  runScript(script: string, env: Record<string, string> = {}): Promise<RunResult> {
    return this.asPostgres(['/bin/sh', '-c', script], env);
  }

  /**
   * initdb and start a primary: superuser postgres and role repl (LOGIN
   * REPLICATION, pg_monitor) with passwords, scram over TCP on loopback for
   * normal and replication connections.
   */
  async primary(o: ServerOptions & { name?: string; host?: string } = {}): Promise<PgServer> {
    const name = o.name ?? 'primary';
    const data = join(this.root, name);
    const pwfile = join(this.root, `${name}.pw`);
    await writeFile(pwfile, `${SUPERUSER.password}\n`);
    await this.chownTree(pwfile);
    const init = await this.asPostgres([
      join(this.bin, 'initdb'),
      '-D',
      data,
      '-U',
      SUPERUSER.username,
      '--pwfile',
      pwfile,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '--no-instructions',
    ]);
    if (init.code !== 0) throw new Error(`initdb failed: ${init.stderr}`);
    const conf: Record<string, string | number> = {
      wal_level: 'replica',
      max_wal_senders: 10,
      max_replication_slots: 10,
      // Per-test servers: data safety across OS crashes is not under test (process crashes are).
      fsync: 'off',
      shared_buffers: '32MB',
      wal_receiver_status_interval: '1s',
      ...o.conf,
    };
    await writeFile(
      join(data, 'postgresql.conf'),
      `${readFileSync(join(data, 'postgresql.conf'), 'utf8')}\n${Object.entries(conf)
        .map(([k, v]) => `${k} = '${String(v)}'`)
        .join('\n')}\n`,
    );
    await writeFile(
      join(data, 'pg_hba.conf'),
      [
        'local all all trust',
        'host all all 127.0.0.1/32 scram-sha-256',
        'host replication all 127.0.0.1/32 scram-sha-256',
        // On a site's address: clients from any subnet the server is on (the other sites, the runner).
        ...(o.host !== undefined && !o.host.startsWith('127.') ? ['host all all samenet scram-sha-256', 'host replication all samenet scram-sha-256'] : []),
        '',
      ].join('\n'),
    );
    const server = await this.server(data, o.host === undefined ? {} : { host: o.host });
    await server.query(`CREATE ROLE ${REPLICATION.username} LOGIN REPLICATION PASSWORD '${REPLICATION.password}'`);
    await server.query(`GRANT pg_monitor TO ${REPLICATION.username}`);
    return server;
  }

  /** Starts a server on an existing data directory, on a new port unless given one. */
  async server(dataDir: string, o: { host?: string; port?: number } = {}): Promise<PgServer> {
    const s = new PgServer(this, dataDir, o.host ?? '127.0.0.1', o.port ?? (await this.port()), this.servers.length);
    this.servers.push(s);
    await s.start();
    await s.waitReady();
    return s;
  }

  /** Stops every server (as a crash: nothing is kept) and removes the directory. */
  async cleanup(): Promise<void> {
    for (const s of this.servers) {
      await s.stop('immediate').catch(() => undefined);
      signalServer(s.dataDir, 'SIGKILL');
    }
    await rm(this.root, { recursive: true, force: true });
  }
}
