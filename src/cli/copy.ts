// `snapshot` and `sync`: the subcommands the copy CronJobs run (in-cluster
// config), also runnable by hand with --kubeconfig.
import { parseArgs } from 'node:util';
import { KubeClient } from '../k8s/client.ts';
import { loadConnection } from '../k8s/connection.ts';
import { createLogger } from '../process/log.ts';
import { snapshotSite } from '../snapshot/command.ts';
import { syncSite } from '../sync/command.ts';
import { DEFAULT_IMAGE } from './image.ts';

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: { site: { type: 'string' }, kubeconfig: { type: 'string' }, timeout: { type: 'string' }, image: { type: 'string' } },
    strict: true,
  });
  if (!values.site) throw new Error('--site <namespace>/<name> is required');
  return values;
}

async function main(argv: string[], what: 'snapshot' | 'sync'): Promise<number> {
  // The result goes to stdout as one JSON line; logs to stderr.
  const log = createLogger(undefined, 2);
  try {
    const args = parse(argv);
    const client = new KubeClient(await loadConnection(args.kubeconfig), { userAgent: `standby-operator/${what}` });
    // The image the sync's check Job runs: the CronJob passes its own.
    const image = args.image ?? process.env.OPERATOR_IMAGE ?? DEFAULT_IMAGE;
    const opts = { log, image, ...(args.timeout ? { timeoutMs: Number(args.timeout) * 1000 } : {}) };
    const result = what === 'snapshot' ? await snapshotSite(client, args.site!, opts) : await syncSite(client, args.site!, opts);
    console.log(JSON.stringify(result));
    return 0;
  } catch (err) {
    log.error({ err: (err as Error).message }, `${what} failed`);
    return 1;
  }
}

export const snapshot = (argv: string[]) => main(argv, 'snapshot');
export const sync = (argv: string[]) => main(argv, 'sync');
