// kubectl-style command lines: `kubectl standby <command> [NAME] [flags]`, flags anywhere,
// the global ones kubectl users expect (--kubeconfig, --context, -n, -A, -o).
import { parseArgs } from 'node:util';
import { parseDuration } from '../api/duration.ts';

export interface Flags {
  kubeconfig: string | undefined;
  context: string | undefined;
  namespace: string | undefined;
  allNamespaces: boolean;
  output: 'text' | 'json';
  /** How long an action waits for the operator, in ms. */
  timeoutMs: number | undefined;
  force: boolean;
  siteLost: boolean;
  help: boolean;
}

export interface CommandLine {
  command: string | undefined;
  names: string[];
  flags: Flags;
}

/** A mistake in the command line: exit code 2 and the usage hint, as kubectl does. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseCommandLine(argv: readonly string[]): CommandLine {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        namespace: { type: 'string', short: 'n' },
        'all-namespaces': { type: 'boolean', short: 'A' },
        output: { type: 'string', short: 'o' },
        timeout: { type: 'string' },
        force: { type: 'boolean' },
        'site-lost': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    // node:util's messages name the flag ("Unknown option '--foo'") and then explain at length.
    throw new UsageError((err as Error).message.split(/\n|\. To specify/)[0] ?? 'bad command line');
  }
  const v = parsed.values;
  const output = v.output ?? 'text';
  if (output !== 'text' && output !== 'json') throw new UsageError(`--output "${output}" is not supported; use -o json, or leave it out for text`);
  let timeoutMs: number | undefined;
  if (v.timeout !== undefined) {
    timeoutMs = parseDuration(v.timeout);
    if (timeoutMs === undefined || timeoutMs <= 0) throw new UsageError(`--timeout "${v.timeout}" is not a positive duration such as 30s, 5m or 1h`);
  }
  if (v.namespace !== undefined && v.namespace === '') throw new UsageError('--namespace needs a name');
  const [command, ...names] = parsed.positionals;
  return {
    command,
    names,
    flags: {
      kubeconfig: v.kubeconfig,
      context: v.context,
      namespace: v.namespace,
      allNamespaces: v['all-namespaces'] ?? false,
      output,
      timeoutMs,
      force: v.force ?? false,
      siteLost: v['site-lost'] ?? false,
      help: v.help ?? false,
    },
  };
}
