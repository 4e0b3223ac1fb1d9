// `run`: the controller. Flags override environment variables (as set by the Helm chart).
import { parseArgs } from 'node:util';
import { loadConnection } from '../k8s/connection.ts';
import { createLogger } from '../process/log.ts';
import { startOperator } from '../process/operator.ts';
import { DEFAULT_IMAGE } from './image.ts';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' },
      namespaces: { type: 'string' },
      concurrency: { type: 'string' },
      'health-port': { type: 'string' },
      'health-host': { type: 'string' },
      'leader-elect': { type: 'boolean' },
      'lease-namespace': { type: 'string' },
      image: { type: 'string' },
    },
    strict: true,
  });
  const env = process.env;
  const log = createLogger();
  // A rejection nobody handled is a bug, but ending the process for it could stop a failover
  // half way: log it loudly and keep reconciling (every step is idempotent and retried).
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled promise rejection (a bug, please report it); continuing'));
  const namespaces = (values.namespaces ?? env.WATCH_NAMESPACES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const leaderElect = values['leader-elect'] ?? env.LEADER_ELECT === 'true';
  const impersonate = env.STANDBY_IMPERSONATE;
  const operator = await startOperator({
    connection: await loadConnection(values.kubeconfig),
    log,
    operatorImage: values.image ?? env.OPERATOR_IMAGE ?? DEFAULT_IMAGE,
    imagePullSecrets: (env.COPY_IMAGE_PULL_SECRETS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    namespaces: namespaces.length ? namespaces : undefined,
    concurrency: Number(values.concurrency ?? env.CONCURRENCY ?? 16),
    health: { port: Number(values['health-port'] ?? env.HEALTH_PORT ?? 8080), host: values['health-host'] ?? env.HEALTH_HOST ?? '0.0.0.0' },
    leaderElection: leaderElect
      ? { namespace: values['lease-namespace'] ?? env.POD_NAMESPACE ?? 'default', name: env.LEASE_NAME ?? 'standby-operator-leader' }
      : undefined,
    ...(env.POD_NAME ? { identity: env.POD_NAME } : {}),
    ...(impersonate
      ? {
          impersonate: {
            user: impersonate,
            groups: impersonate.startsWith('system:serviceaccount:')
              ? ['system:serviceaccounts', `system:serviceaccounts:${impersonate.split(':')[2] ?? ''}`]
              : [],
          },
        }
      : {}),
    ...(env.LAG_PROBE_MS ? { lagProbeMs: Number(env.LAG_PROBE_MS) } : {}),
    // How often a primary's cluster in another site is probed, and how long a probe waits (sites with spec.primary.cluster).
    remote: {
      ...(env.REMOTE_PROBE_INTERVAL_MS ? { probeIntervalMs: Number(env.REMOTE_PROBE_INTERVAL_MS) } : {}),
      ...(env.REMOTE_PROBE_TIMEOUT_MS ? { probeTimeoutMs: Number(env.REMOTE_PROBE_TIMEOUT_MS) } : {}),
    },
    exitAfterStep: env.STANDBY_TEST_EXIT_AFTER_STEP,
  });
  log.info({ healthPort: operator.healthPort, namespaces: namespaces.length ? namespaces : 'all' }, 'operator running');
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'signal received');
      // A second signal, or a stuck shutdown, ends the process anyway.
      setTimeout(() => process.exit(1), 25_000).unref();
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await operator.stop();
  return 0;
}
