// The operator's one program. Subcommands:
//   run       the controller (default)
//   snapshot  take one snapshot set of a cold site and apply retention (the cold CronJob runs this)
//   sync      make a new standby copy of a warm site (the warm CronJob runs this)
//   mover     back a volume up into / restore it from a restic repository in S3 (mover Jobs run this)
//   gen-crd   write crds/ from the schema
//   remote-kubeconfig  print the kubeconfig of a primary's cluster for a standby's cluster (remoteAccess)
import { genCrd } from './gen-crd.ts';
import { run } from './run.ts';
import { snapshot, sync } from './copy.ts';
import { mover } from './mover.ts';
import { remoteKubeconfigCommand } from './remote-kubeconfig.ts';

const commands: Record<string, (args: string[]) => Promise<number>> = {
  run,
  snapshot,
  sync,
  mover,
  'gen-crd': genCrd,
  'remote-kubeconfig': remoteKubeconfigCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name = 'run', ...rest] = argv;
  const command = commands[name];
  if (!command) {
    console.error(`unknown command "${name}"; commands: ${Object.keys(commands).join(', ')}`);
    return 2;
  }
  return command(rest);
}

process.exitCode = await main(process.argv.slice(2));
