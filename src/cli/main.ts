// The operator's one program. Subcommands:
//   run       the controller (default)
//   snapshot  take one snapshot set of a cold site and apply retention (the cold CronJob runs this)
//   sync      make a new standby copy of a warm site (the warm CronJob runs this)
//   verify-copy  check that a new copy's volumes are mounted (the sync's check Job runs this)
//   mover     back a volume up into / restore it from a restic repository in S3 (mover Jobs run this)
//   gen-crd   write crds/ from the schema
//   fence-keeper  fence a primary at its guard's deadline while the operator cannot (site failover)
//   remote-kubeconfig  print the kubeconfig of a primary's cluster for a standby's cluster (remoteAccess)
import { genCrd } from './gen-crd.ts';
import { run } from './run.ts';
import { fenceKeeper } from './fence-keeper.ts';
import { snapshot, sync } from './copy.ts';
import { verifyCopy } from './verify-copy.ts';
import { mover } from './mover.ts';
import { remoteKubeconfigCommand } from './remote-kubeconfig.ts';

const commands: Record<string, { summary: string; run: (args: string[]) => Promise<number> }> = {
  run: { summary: 'run the controller (the default; flags override the environment the Helm chart sets)', run },
  snapshot: { summary: 'take one snapshot set of a cold site and apply retention: --site <namespace>/<name>', run: snapshot },
  sync: { summary: 'make a new standby copy of a warm site: --site <namespace>/<name>', run: sync },
  'gen-crd': { summary: 'write the CRD generated from the schema to crds/ and the chart (--check: only check)', run: genCrd },
  'verify-copy': { summary: "check that a new copy's volumes are mounted (the sync's check Job runs this)", run: verifyCopy },
  mover: { summary: 'back a volume up into S3 or restore it (the volume mover Jobs): backup|restore ...', run: mover },
  'fence-keeper': {
    summary: "fence the primary at its StandbySiteGuard's deadline while the operator cannot (the chart's fenceKeeper Deployment in the primary's cluster)",
    run: fenceKeeper,
  },
  'remote-kubeconfig': {
    summary: "print the kubeconfig for a standby cluster's Secret from the chart's remoteAccess token (run against the primary's cluster)",
    run: remoteKubeconfigCommand,
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  return [
    'standby-operator: a disaster-recovery standby (cold, warm or hot) for stateful Kubernetes workloads',
    '',
    'Usage: standby-operator [command] [flags]',
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'run flags: --kubeconfig, --namespaces, --concurrency, --health-port, --health-host, --leader-elect, --lease-namespace, --image',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name = 'run', ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`unknown command "${name}"; commands: ${Object.keys(commands).join(', ')} (--help for more)`);
    return 2;
  }
  return command.run(rest);
}

process.exitCode = await main(process.argv.slice(2));
