import { describe, expect, test } from 'vitest';
import { parseCommandLine, UsageError } from '../../../src/plugin/args.ts';

describe('kubectl-style command lines', () => {
  test('flags anywhere, short and long, with = or a separate value', () => {
    const l = parseCommandLine(['-n', 'shop', 'promote', 'orders', '--force', '--timeout=90s', '--context', 'prod', '-o', 'json', '--kubeconfig=/k']);
    expect(l.command).toBe('promote');
    expect(l.names).toEqual(['orders']);
    expect(l.flags).toMatchObject({ namespace: 'shop', force: true, timeoutMs: 90_000, context: 'prod', output: 'json', kubeconfig: '/k', siteLost: false });
    expect(parseCommandLine(['list', '-A']).flags.allNamespaces).toBe(true);
    expect(parseCommandLine(['status', 'x', '--namespace=billing']).flags.namespace).toBe('billing');
  });

  test('bad input names the flag and what is allowed', () => {
    const bad: [string[], string][] = [
      [['list', '-o', 'yaml'], '--output "yaml" is not supported; use -o json'],
      [['promote', 'x', '--timeout', 'soon'], '--timeout "soon" is not a positive duration such as 30s, 5m or 1h'],
      [['promote', 'x', '--timeout', '0s'], '--timeout "0s" is not a positive duration'],
      [['status', 'x', '--frobnicate'], "Unknown option '--frobnicate'"],
    ];
    for (const [argv, message] of bad) {
      expect(() => parseCommandLine(argv), argv.join(' ')).toThrow(UsageError);
      expect(() => parseCommandLine(argv), argv.join(' ')).toThrow(message);
    }
  });
});
