#!/usr/bin/env node
// kubectl-standby: `kubectl standby ...` once this executable is on PATH (npm's bin, or krew).
import { parseCommandLine, UsageError } from './args.ts';
import { COMMANDS, CommandError } from './commands.ts';

const GLOBAL_FLAGS = [
  '  --kubeconfig FILE     the kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config)',
  '  --context NAME        the kubeconfig context to use (default: its current context)',
  '  -n, --namespace NAME  the namespace (default: the context\'s namespace, else default)',
  '  -A, --all-namespaces  list: every namespace',
  '  -o, --output json     JSON for scripts, on stdout (progress and errors go to stderr)',
  '  --timeout DURATION    actions: how long to wait for the operator (default 5m, e.g. 30s, 10m)',
];

function usage(): string {
  const width = Math.max(...Object.values(COMMANDS).map((c) => c.usage.length));
  return [
    'kubectl standby: see and drive StandbySites (standby.dev) from kubectl',
    '',
    'Usage: kubectl standby COMMAND [NAME] [flags]',
    '',
    'Commands:',
    ...Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    '',
    'Flags:',
    ...GLOBAL_FLAGS,
    '',
    'Actions write their annotation with a fresh token and wait until the operator acted on it.',
    'Exit codes: 0 done, 1 failed, refused or timed out (one line on stderr says why), 2 bad command line.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const out = (t: string) => process.stdout.write(`${t}\n`);
  const err = (t: string) => process.stderr.write(`${t}\n`);
  const interrupt = new AbortController();
  process.once('SIGINT', () => interrupt.abort());
  try {
    const line = parseCommandLine(argv);
    if (line.command === undefined || line.command === 'help') {
      (line.command === undefined && !line.flags.help ? err : out)(usage());
      return line.command === undefined && !line.flags.help ? 2 : 0;
    }
    const command = COMMANDS[line.command];
    if (!command) throw new UsageError(`unknown command "${line.command}"; commands: ${Object.keys(COMMANDS).join(', ')}`);
    if (line.flags.help) {
      out(`Usage: kubectl standby ${command.usage} [flags]\n\n${command.summary}\n\nFlags:\n${GLOBAL_FLAGS.join('\n')}`);
      return 0;
    }
    return await command.run(line.names, line.flags, { out, err }, interrupt.signal);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`error: ${e.message} (see kubectl standby --help)`);
      return 2;
    }
    // One line: what failed and why, never a stack trace.
    const message = e instanceof CommandError ? e.message : e instanceof Error ? e.message : String(e);
    err(`error: ${message.replace(/\s*\n\s*/g, ' ')}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
