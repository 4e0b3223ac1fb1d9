// Helpers of the real-pod tests: namespaces whose pods land on the real node, the PostgreSQL
// primary they protect (the test image, a real readiness probe), a client that writes numbered
// rows through a Service and remembers which the server acknowledged, and ways to make the
// primary fail (kill its container through containerd, or make its readiness probe fail).
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inject } from 'vitest';
import pg from 'pg';
import { kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import { run } from '../cluster/common.ts';
import { REAL_NAMESPACE_ANNOTATIONS, type RealNodesState } from '../cluster/real-node.ts';

export const SUPERUSER = { username: 'postgres', password: 'super-secret-pw' };
export const REPLICATION = { username: 'repl', password: 'repl-secret-pw' };
/** PGDATA under the data volume's mount: the mount point itself stays the volume's root. */
export const PGDATA = '/var/lib/postgresql/data/pgdata';
/** A file on the data volume whose presence fails the readiness probe (written from the host). */
export const FAIL_READINESS_FILE = 'fail-readiness';

export function realNodes(): RealNodesState {
  const r = inject('realNodes');
  if (!r) throw new Error('the realpods project runs against a control plane with real nodes (test/realpods/global-setup.ts)');
  return r;
}

export function images(): RealNodesState['images'] {
  return realNodes().images;
}

/** A namespace whose every pod (the operator's Jobs included) runs on the real node. */
export async function createRealNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}`;
  const annotations = Object.entries(REAL_NAMESPACE_ANNOTATIONS).map(([k, v]) => `    ${k}: '${v}'`).join('\n');
  await kubectl(['apply', '-f', '-'], { input: `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n  annotations:\n${annotations}\n` });
  return name;
}

/**
 * Secrets, Service and StatefulSet of a PostgreSQL primary in the test image: superuser and a
 * replication role made by the image's entrypoint, and a readiness probe that asks the server
 * (pg_isready) and fails while FAIL_READINESS_FILE exists on the data volume.
 */
export function postgresPrimary(name: string): string {
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
          image: ${images().postgres}
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
          volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 1Gi}}
`;
}

interface PodView {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status: {
    podIP?: string;
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; containerID?: string; ready: boolean; restartCount: number }[];
    initContainerStatuses?: { name: string; state?: { terminated?: { exitCode: number } } }[];
  };
}

export async function pod(ns: string, name: string): Promise<PodView> {
  return kubectlJson<PodView>(['-n', ns, 'get', 'pod', name]);
}

export function isReady(p: PodView): boolean {
  return p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export async function waitReady(ns: string, name: string, timeoutMs = 300_000): Promise<PodView> {
  return waitFor(async () => {
    const p = await pod(ns, name);
    return isReady(p) ? p : undefined;
  }, { timeoutMs, intervalMs: 1_000, description: `pod ${ns}/${name} to be Ready` });
}

/** The ClusterIP of a Service. */
export async function clusterIP(ns: string, service: string): Promise<string> {
  const svc = await kubectlJson<{ spec: { clusterIP: string } }>(['-n', ns, 'get', 'service', service]);
  return svc.spec.clusterIP;
}

/** The host folder behind a PVC (the fake storage's hostPath PV). */
export async function claimFolder(ns: string, claim: string): Promise<string> {
  const pvc = await kubectlJson<{ spec: { volumeName?: string } }>(['-n', ns, 'get', 'pvc', claim]);
  if (!pvc.spec.volumeName) throw new Error(`PVC ${ns}/${claim} is not bound`);
  const pv = await kubectlJson<{ spec: { hostPath?: { path: string } } }>(['get', 'pv', pvc.spec.volumeName]);
  if (!pv.spec.hostPath) throw new Error(`PV ${pvc.spec.volumeName} is not a hostPath volume`);
  return pv.spec.hostPath.path;
}

/** Makes the primary's readiness probe fail (the server keeps running). */
export async function failReadiness(ns: string, claim: string): Promise<void> {
  const folder = await claimFolder(ns, claim);
  if (!existsSync(folder)) throw new Error(`volume folder ${folder} does not exist`);
  await writeFile(join(folder, FAIL_READINESS_FILE), 'the test made this primary fail its readiness probe\n');
}

/** SIGKILLs a container's processes through the node's containerd (as an OOM kill or a crash would). */
export async function killContainer(ns: string, podName: string, container: string): Promise<string> {
  const p = await pod(ns, podName);
  const id = p.status.containerStatuses?.find((c) => c.name === container)?.containerID?.replace(/^containerd:\/\//, '');
  if (!id) throw new Error(`pod ${ns}/${podName} has no running container ${container}`);
  const node = p.spec.nodeName ?? '';
  const sock = realNodes().containerd[node];
  if (!sock) throw new Error(`pod ${ns}/${podName} runs on ${node}, not on a real node`);
  const res = await run('ctr', ['--address', sock, '--namespace', 'k8s.io', 'tasks', 'kill', '--signal', 'SIGKILL', id]);
  if (res.code !== 0 && !/not found|process already finished/i.test(res.stderr)) throw new Error(`ctr tasks kill ${id}: ${res.stderr}`);
  return id;
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
    await waitFor(() => this.acked.length >= target, { timeoutMs, intervalMs: 200, description: `${count} more acknowledged rows (errors: ${this.errors.slice(-3).join(' | ')})` });
  }
}

/** Logs of a pod's container, through the kubelet. */
export async function logs(ns: string, podName: string, container: string): Promise<string> {
  return kubectl(['-n', ns, 'logs', podName, '-c', container]);
}

/**
 * From a fresh pod on the real node (not selected by any policy), whether each address accepts
 * PostgreSQL connections on 5432 (pg_isready). Enforced NetworkPolicies decide what it reaches.
 */
export async function reachableFromPod(ns: string, addresses: string[]): Promise<Record<string, boolean>> {
  const name = `probe-${Date.now().toString(36)}`;
  const script = addresses.map((a) => `if pg_isready --host ${a} --port 5432 --timeout 5 >/dev/null; then echo "${a} open"; else echo "${a} closed"; fi`).join('; ');
  await kubectl(['-n', ns, 'apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels: { app: 'probe' } },
      spec: { restartPolicy: 'Never', securityContext: { runAsUser: 999 }, containers: [{ name: 'probe', image: images().postgres, command: ['sh', '-c', script] }] },
    }),
  });
  await waitFor(async () => {
    const p = await pod(ns, name);
    if (p.status.phase === 'Failed') throw new Error(`probe pod failed`);
    return p.status.phase === 'Succeeded';
  }, { timeoutMs: 120_000, intervalMs: 1_000, description: `probe pod ${ns}/${name} to finish` });
  const out = await logs(ns, name, 'probe');
  const result: Record<string, boolean> = {};
  for (const a of addresses) result[a] = new RegExp(`^${a.replaceAll('.', '\\.')} open$`, 'm').test(out);
  return result;
}
