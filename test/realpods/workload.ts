// The PostgreSQL workload of the real-pod tests and of `npm run demo -- --real`: the primary's
// manifests (the test image, a real readiness probe) and a client that writes numbered rows
// through a Service and remembers which the server acknowledged. No vitest imports.
import pg from 'pg';

export const SUPERUSER = { username: 'postgres', password: 'super-secret-pw' };
export const REPLICATION = { username: 'repl', password: 'repl-secret-pw' };
/** PGDATA under the data volume's mount: the mount point itself stays the volume's root. */
export const PGDATA = '/var/lib/postgresql/data/pgdata';
/** A file on the data volume whose presence fails the readiness probe (written from the host). */
export const FAIL_READINESS_FILE = 'fail-readiness';

/**
 * Secrets, Service and StatefulSet of a PostgreSQL primary in the test image: superuser and a
 * replication role made by the image's entrypoint, and a readiness probe that asks the server
 * (pg_isready) and fails while FAIL_READINESS_FILE exists on the data volume.
 */
export function postgresPrimary(name: string, image: string, o: { tlsSecret?: string } = {}): string {
  // ssl = on with the server certificate and key of a kubernetes.io/tls Secret (key 0640 root:fsGroup, which postgres accepts).
  const tls = o.tlsSecret
    ? {
        args: `\n          args: [-c, ssl=on, -c, ssl_cert_file=/etc/postgres-tls/tls.crt, -c, ssl_key_file=/etc/postgres-tls/tls.key]`,
        mount: `, {name: tls, mountPath: /etc/postgres-tls, readOnly: true}`,
        volume: `\n      volumes: [{name: tls, secret: {secretName: ${o.tlsSecret}, defaultMode: 384}}]`,
      }
    : { args: '', mount: '', volume: '' };
  return `
apiVersion: v1
kind: Secret
metadata: {name: ${name}-super}
stringData: {username: ${SUPERUSER.username}, password: ${SUPERUSER.password}}
---
apiVersion: v1
kind: Secret
metadata: {name: ${name}-repl}
stringData: {username: ${REPLICATION.username}, password: ${REPLICATION.password}}
---
apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  selector: {app: ${name}}
  ports: [{name: postgres, port: 5432, targetPort: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ${name}}
spec:
  serviceName: ${name}
  replicas: 1
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: 5
      securityContext: {runAsUser: 999, runAsGroup: 999, fsGroup: 999}
      containers:
        - name: postgres
          image: ${image}${tls.args}
          env:
            - {name: PGDATA, value: ${PGDATA}}
            - name: POSTGRES_PASSWORD
              valueFrom: {secretKeyRef: {name: ${name}-super, key: password}}
            - name: POSTGRES_REPLICATION_USER
              valueFrom: {secretKeyRef: {name: ${name}-repl, key: username}}
            - name: POSTGRES_REPLICATION_PASSWORD
              valueFrom: {secretKeyRef: {name: ${name}-repl, key: password}}
          ports: [{containerPort: 5432, name: postgres}]
          readinessProbe:
            exec: {command: [sh, -c, 'pg_isready --host 127.0.0.1 --port 5432 --quiet && test ! -e /var/lib/postgresql/data/${FAIL_READINESS_FILE}']}
            periodSeconds: 1
            failureThreshold: 1
            timeoutSeconds: 5
          volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}${tls.mount}]${tls.volume}
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 1Gi}}
`;
}

/** A hot StandbySite for the primary above: synchronous streaming, automatic promotion after 5 s. */
export function hotSiteYaml(site: string): string {
  return `
apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ${site}}
spec:
  tier: hot
  primary:
    workload: {kind: StatefulSet, name: ${site}}
    service: ${site}
  traffic: {service: ${site}-active}
  engine:
    type: postgresql
    postgresql:
      replicationSecret: ${site}-repl
      superuserSecret: ${site}-super
      synchronous: true
  rpoTarget: 5s
  hot: {replicas: 1, maxLag: 10s}
  promotion:
    mode: automatic
    failureThreshold: 5s
    stepTimeout: 2m
    fencing: networkPolicy
    maxPromotions: {count: 1, window: 1h}
`;
}

export async function connect(host: string, o: { port?: number; database?: string; timeoutMs?: number } = {}): Promise<pg.Client> {
  const c = new pg.Client({
    host,
    port: o.port ?? 5432,
    user: SUPERUSER.username,
    password: SUPERUSER.password,
    database: o.database ?? 'postgres',
    connectionTimeoutMillis: o.timeoutMs ?? 3_000,
    query_timeout: o.timeoutMs ?? 5_000,
  });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

export async function query<T extends Record<string, unknown>>(host: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = await connect(host);
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Writes rows 1, 2, 3, ... into `rows(n)` through a Service address, one transaction each,
 * reconnecting after any error; `acked` holds every number whose COMMIT the server confirmed.
 */
export class RowWriter {
  readonly acked: number[] = [];
  readonly errors: string[] = [];
  /** When each acknowledged row was confirmed (ms since epoch), by number. */
  readonly ackedAt = new Map<number, number>();
  private next = 1;
  private stopped = false;
  private done: Promise<void> | undefined;
  private readonly host: string;

  constructor(host: string) {
    this.host = host;
  }

  start(): void {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let c: pg.Client | undefined;
      try {
        c = await connect(this.host, { timeoutMs: 3_000 });
        while (!this.stopped) {
          const n = this.next++;
          await c.query('INSERT INTO rows (n) VALUES ($1)', [n]);
          this.acked.push(n);
          this.ackedAt.set(n, Date.now());
          await new Promise((r) => setTimeout(r, 20));
        }
      } catch (err) {
        this.errors.push(err instanceof Error ? err.message : String(err));
        await new Promise((r) => setTimeout(r, 250));
      } finally {
        await c?.end().catch(() => undefined);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** Waits until at least `count` more rows are acknowledged than now. */
  async waitForMore(count: number, timeoutMs: number): Promise<void> {
    const target = this.acked.length + count;
    const deadline = Date.now() + timeoutMs;
    while (this.acked.length < target) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${count} more acknowledged rows (last errors: ${this.errors.slice(-3).join(' | ')})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

