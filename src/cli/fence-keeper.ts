// `fence-keeper`: the primary's cluster's second process for automatic site failover (the chart's
// fenceKeeper Deployment). Flags override environment variables, as for `run`.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConnection } from '../k8s/connection.ts';
import { createLogger } from '../process/log.ts';
import { startFenceKeeper } from '../process/fence-keeper.ts';

export async function fenceKeeper(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' },
      namespaces: { type: 'string' },
      'health-port': { type: 'string' },
      'health-host': { type: 'string' },
    },
    strict: true,
  });
  const env = process.env;
  const log = createLogger().child({ role: 'fence-keeper' });
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled promise rejection (a bug, please report it); continuing'));
  const namespaces = (values.namespaces ?? env.WATCH_NAMESPACES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const impersonate = env.STANDBY_IMPERSONATE;
  const keeper = await startFenceKeeper({
    connection: await loadConnection(values.kubeconfig),
    log,
    namespaces: namespaces.length ? namespaces : undefined,
    identity: env.POD_NAME ?? `${hostname()}-${process.pid}`,
    ...(impersonate
      ? {
          impersonate: {
            user: impersonate,
            groups: impersonate.startsWith('system:serviceaccount:') ? ['system:serviceaccounts', `system:serviceaccounts:${impersonate.split(':')[2] ?? ''}`] : [],
          },
        }
      : {}),
    health: { port: Number(values['health-port'] ?? env.HEALTH_PORT ?? 8081), host: values['health-host'] ?? env.HEALTH_HOST ?? '0.0.0.0' },
  });
  log.info({ healthPort: keeper.healthPort }, 'fence keeper running');
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'signal received');
      setTimeout(() => process.exit(1), 10_000).unref();
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await keeper.stop();
  return 0;
}
