// `mover backup` and `mover restore`: what the volume mover's Jobs run (src/mover/job.ts
// builds them). Backup copies a mounted volume into a restic repository in S3 and applies the
// site's retention; restore writes a snapshot into a fresh, empty volume. The S3 keys come from
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, the repository password from --password-file.
// The result goes to stdout as one JSON line (and to --result-file, the pod's termination
// message); logs go to stderr.
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseDuration } from '../api/duration.ts';
import { globalArgs, resticEnv } from '../mover/restic.ts';
import { backup, restore, MoverError, type Restic } from '../mover/run.ts';
import { createLogger } from '../process/log.ts';

const options = {
  repository: { type: 'string' },
  'password-file': { type: 'string' },
  cacert: { type: 'string' },
  'cache-dir': { type: 'string' },
  host: { type: 'string' },
  tag: { type: 'string', multiple: true },
  source: { type: 'string' },
  target: { type: 'string' },
  snapshot: { type: 'string' },
  'keep-last': { type: 'string' },
  'max-age': { type: 'string' },
  'trust-mtime': { type: 'boolean' },
  'result-file': { type: 'string' },
  restic: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; strict: true }>>['values'];

function required(values: Values, name: 'repository' | 'password-file' | 'host' | 'source' | 'target'): string {
  const v = values[name];
  if (v === undefined || v === '') throw new MoverError(`--${name} is required`);
  return v;
}

function retention(values: Values): { keepLast?: number; maxAgeMs?: number } {
  const out: { keepLast?: number; maxAgeMs?: number } = {};
  if (values['keep-last'] !== undefined) {
    const n = Number(values['keep-last']);
    if (!Number.isInteger(n) || n < 1) throw new MoverError(`--keep-last must be a whole number >= 1, not "${values['keep-last']}"`);
    out.keepLast = n;
  }
  if (values['max-age'] !== undefined) {
    const ms = parseDuration(values['max-age']);
    if (ms === undefined || ms <= 0) throw new MoverError(`--max-age must be a positive duration such as 168h, not "${values['max-age']}"`);
    out.maxAgeMs = ms;
  }
  if (out.keepLast === undefined && out.maxAgeMs === undefined) throw new MoverError('--keep-last, --max-age or both are required (the site\'s retention)');
  return out;
}

async function main(argv: string[]): Promise<number> {
  const log = createLogger(undefined, 2);
  const [what, ...rest] = argv;
  if (what !== 'backup' && what !== 'restore') {
    console.error('usage: mover backup|restore --repository s3:... --password-file FILE --host NAME [--tag T]... (see src/cli/mover.ts)');
    return 2;
  }
  let values: Values;
  try {
    values = parseArgs({ args: rest, options, strict: true }).values;
  } catch (err) {
    console.error(`mover ${what}: ${(err as Error).message}`);
    return 2;
  }
  try {
    const repository = required(values, 'repository');
    const passwordFile = required(values, 'password-file');
    // restic would fall back to asking on a terminal; a Job must fail and say why instead.
    const password = await readFile(passwordFile, 'utf8').catch(() => '');
    if (password.trim() === '') throw new MoverError(`the repository password file ${passwordFile} is missing or empty: mount the password Secret there`);
    const r: Restic = {
      program: values.restic ?? process.env.RESTIC_BINARY ?? 'restic',
      env: { ...process.env, ...resticEnv({ repository, passwordFile, cacheDir: values['cache-dir'] }) },
      globalArgs: globalArgs({ caFile: values.cacert }),
      repository,
    };
    const identity = { host: required(values, 'host'), tags: values.tag ?? [] };
    const result = what === 'backup'
      ? await backup(r, { source: required(values, 'source'), options: { ...identity, trustMtime: values['trust-mtime'] === true }, retention: retention(values) })
      : await restore(r, { target: required(values, 'target'), snapshot: values.snapshot ?? 'latest', identity });
    const line = JSON.stringify(result);
    console.log(line);
    if (values['result-file'] !== undefined) await writeFile(values['result-file'], line.slice(0, 4096)).catch(() => undefined);
    return 0;
  } catch (err) {
    const message = (err as Error).message;
    log.error({ err: message }, `mover ${what} failed`);
    if (values['result-file'] !== undefined) await writeFile(values['result-file'], JSON.stringify({ error: message }).slice(0, 4096)).catch(() => undefined);
    return 1;
  }
}

export const mover = (argv: string[]) => main(argv);
