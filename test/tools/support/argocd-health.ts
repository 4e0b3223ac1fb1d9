// Runs Argo CD health checks (health.lua) the way Argo CD does — the object as the global `obj`,
// the script's return value as the result — with a real Lua 5.1 interpreter (Debian's lua5.1;
// Argo CD embeds gopher-lua, a Lua 5.1 implementation).
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../cluster/common.ts';
import { requireTool } from './tools.ts';

export const HEALTH_DIR = join(repoRoot, 'integrations/argocd/resource_customizations/standby.dev/StandbySite');
export const HEALTH_LUA = join(HEALTH_DIR, 'health.lua');

export interface Health {
  status: string;
  message: string;
}

/** A Lua literal of a JSON value: objects and arrays become tables, null becomes nil. */
export function luaLiteral(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`no Lua literal for ${v}`);
    return String(v);
  }
  if (typeof v === 'string') return luaString(v);
  if (Array.isArray(v)) return `{${v.map(luaLiteral).join(', ')}}`;
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== null && x !== undefined)
      .map(([k, x]) => `[${luaString(k)}] = ${luaLiteral(x)}`)
      .join(', ')}}`;
  }
  throw new Error(`no Lua literal for a ${typeof v}`);
}

/** A Lua 5.1 string literal: bytes as they are, except quotes, backslashes and control characters. */
function luaString(s: string): string {
  let out = '"';
  for (const byte of Buffer.from(s, 'utf8')) {
    if (byte === 0x22) out += '\\"';
    else if (byte === 0x5c) out += '\\\\';
    else if (byte < 0x20 || byte === 0x7f) out += `\\${byte.toString().padStart(3, '0')}`;
    else out += String.fromCharCode(byte);
  }
  // One char per byte: the harness is written as latin1, so the UTF-8 bytes reach Lua unchanged.
  return `${out}"`;
}

/** The health of `obj` by the script, as Argo CD would compute it. */
export async function health(obj: unknown, script = HEALTH_LUA): Promise<Health> {
  const lua = requireTool('lua5.1', 'lua5.1');
  const dir = await mkdtemp(join(tmpdir(), 'standby-argocd-'));
  try {
    const harness = join(dir, 'run.lua');
    // Each field on its own line, the message last (it may hold anything but a newline).
    const text = `obj = ${luaLiteral(obj)}\nlocal hs = dofile(${luaString(script)})\nio.write(tostring(hs.status), "\\n", tostring(hs.message))\n`;
    await writeFile(harness, Buffer.from(text, 'latin1'));
    // execFile, not a piped stdin: lua5.1 never reads it and may exit before it is closed.
    const out = await new Promise<string>((resolve, reject) =>
      execFile(lua, [harness], { timeout: 30_000, encoding: 'utf8' }, (err, stdout, stderr) =>
        err ? reject(new Error(`lua5.1 ${script} failed: ${stderr.trim() || err.message}`)) : resolve(stdout),
      ),
    );
    const nl = out.indexOf('\n');
    return { status: out.slice(0, nl), message: out.slice(nl + 1) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
