// Rendering commands for POSIX sh. Everything the engine runs in a pod is a
// shell script built from argv arrays here, so that quoting is done in one
// place and the tests can run exactly the same text.

/** A raw shell expression, e.g. "$slot": emitted as written, never quoted. */
export interface ShellExpr {
  readonly sh: string;
}

/** One argument of a command: literal text (quoted as needed) or a shell expression. */
export type Word = string | ShellExpr;

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes text so that sh reads it back as one literal word. */
export function quote(text: string): string {
  if (SAFE.test(text)) return text;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** A shell expression word. */
export function sh(expr: string): ShellExpr {
  return { sh: expr };
}

/** The reference "$name" to a shell variable, as a word. */
export function shellVar(name: string): ShellExpr {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a shell variable name: ${name}`);
  return sh(`"$${name}"`);
}

export function renderWord(w: Word): string {
  return typeof w === 'string' ? quote(w) : w.sh;
}

/** Renders an argv array as one shell command line. */
export function render(argv: readonly Word[]): string {
  return argv.map(renderWord).join(' ');
}

/** `NAME=value ... command`: environment for one command only. */
export function withEnv(env: Readonly<Record<string, Word>>, argv: readonly Word[]): string {
  const prefix = Object.entries(env).map(([k, v]) => `${k}=${renderWord(v)}`);
  return [...prefix, render(argv)].join(' ');
}

/** `printf '%s\n' TEXT | command`: feeds text to a command's stdin (psql -f -). */
export function piped(text: string, argv: readonly Word[], env: Readonly<Record<string, Word>> = {}): string {
  return `printf '%s\\n' ${quote(text)} | ${withEnv(env, argv)}`;
}
