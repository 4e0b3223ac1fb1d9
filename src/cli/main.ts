// The operator's one program. Subcommands:
//   run       the controller (default)
//   gen-crd   write crds/ from the schema
import { genCrd } from './gen-crd.ts';

const commands: Record<string, (args: string[]) => Promise<number>> = {
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
