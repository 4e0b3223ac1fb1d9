// `verify-copy`: run by the sync's check Job with a new copy's claims mounted under --dir: each
// must be a readable directory. Binding is what the Job proves by running at all; this makes
// sure the volume really is there.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export async function verifyCopy(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { dir: { type: 'string' } }, strict: true });
  const dir = values.dir ?? '/copies';
  try {
    const volumes = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
    if (volumes.length === 0) throw new Error(`no volume is mounted under ${dir}`);
    const entries: Record<string, number> = {};
    for (const v of volumes) entries[v] = (await readdir(join(dir, v))).length;
    console.log(JSON.stringify({ verified: entries }));
    return 0;
  } catch (err) {
    console.error(`verify-copy: ${(err as Error).message}`);
    return 1;
  }
}
