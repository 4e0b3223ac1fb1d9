import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { piped, quote, render, sh, shellVar, withEnv } from '../../../../src/engines/postgresql/shell.ts';

/** What sh makes of a command line: the arguments, NUL-terminated by printf (which repeats its format). */
function argsOf(line: string, env: Record<string, string> = {}): string[] {
  const out = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${line}`], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', ...env } });
  return out.split('\0').slice(0, -1);
}

describe('shell rendering', () => {
  const tricky = ["it's", 'a b', '$HOME', '`id`', '"q"', 'back\\slash', '', 'semi;colon', "''", 'new\nline', '*'];

  test('quoted words come back from sh exactly as given', () => {
    expect(argsOf(render(tricky))).toEqual(tricky);
  });

  test('plain words stay readable', () => {
    expect(quote('--wal-method=stream')).toBe('--wal-method=stream');
    expect(quote('/var/lib/postgresql/data')).toBe('/var/lib/postgresql/data');
    expect(quote("host=x dbname='a b'")).toBe(`'host=x dbname='\\''a b'\\'''`);
  });

  test('shell expressions are expanded by sh, not quoted', () => {
    expect(render(['--slot', shellVar('slot'), sh('"$x-y"')])).toBe('--slot "$slot" "$x-y"');
    expect(argsOf(render([shellVar('slot')]), { slot: 'a b' })).toEqual(['a b']);
    expect(() => shellVar('not a name')).toThrow();
  });

  test('environment for one command and text on stdin', () => {
    expect(withEnv({ PGUSER: shellVar('U'), X: 'a b' }, ['psql'])).toBe(`PGUSER="$U" X='a b' psql`);
    const line = piped("SELECT 'x';\n\\gexec", ['cat']);
    expect(execFileSync('/bin/sh', ['-c', line], { encoding: 'utf8' })).toBe("SELECT 'x';\n\\gexec\n");
  });
});
