// The operator's one program. Subcommands:
//   run       the controller (default)
//   snapshot  take one snapshot set of a cold site and apply retention (the cold CronJob runs this)
//   sync      make a new standby copy of a warm site (the warm CronJob runs this)
//   verify-copy  check that a new copy's volumes are mounted (the sync's check Job runs this)
//   gen-crd   write crds/ from the schema
import { genCrd } from './gen-crd.ts';
import { run } from './run.ts';
import { snapshot, sync } from './copy.ts';
import { verifyCopy } from './verify-copy.ts';

const commands: Record<string, (args: string[]) => Promise<number>> = {
  run,
  snapshot,
  sync,
  'verify-copy': verifyCopy,
  'gen-crd': genCrd,
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
