// Reading the engine's credentials from Secrets, with the sentences shown
// when a Secret or a key is missing. Never throws.
import type { EngineIO } from '../engine.ts';
import { SECRET_KEYS } from './settings.ts';

export type Credentials = { ok: true; username: string; password: string } | { ok: false; problem: string };

export async function readCredentials(io: EngineIO, namespace: string, secret: string, field: string): Promise<Credentials> {
  let data: Record<string, string> | undefined;
  try {
    data = await io.secret(namespace, secret);
  } catch (err) {
    return { ok: false, problem: `cannot read Secret ${secret} (${field}): ${(err as Error).message}` };
  }
  if (!data) return { ok: false, problem: `Secret ${secret} (${field}) does not exist in namespace ${namespace}` };
  const missing = [SECRET_KEYS.username, SECRET_KEYS.password].filter((k) => !data[k]);
  if (missing.length > 0) {
    const keys = missing.map((k) => `"${k}"`).join(' and ');
    return { ok: false, problem: `Secret ${secret} (${field}) has no ${keys} (or ${missing.length > 1 ? 'they are' : 'it is'} empty); it needs keys username and password` };
  }
  return { ok: true, username: data[SECRET_KEYS.username]!, password: data[SECRET_KEYS.password]! };
}
