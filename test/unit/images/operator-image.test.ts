// The operator image that `npm run images` builds without Docker must start like the
// Dockerfile's: same user, working directory, environment, port, entrypoint and command, and
// the files where the Dockerfile copies them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { repoRoot } from '../../cluster/common.ts';
import { operatorImageSpec } from '../../cluster/images/build.ts';

interface Stage {
  workdir?: string;
  user?: string;
  env: Record<string, string>;
  expose: string[];
  entrypoint?: string[];
  cmd?: string[];
  copies: string[];
}

/** The instructions of the Dockerfile's last stage (the runtime image). */
function runtimeStage(text: string): Stage {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const last = lines.map((l, i) => (/^FROM\s/i.test(l) ? i : -1)).filter((i) => i >= 0).pop() ?? 0;
  const stage: Stage = { env: {}, expose: [], copies: [] };
  for (const line of lines.slice(last + 1)) {
    const [op = '', ...rest] = line.split(/\s+/);
    const arg = line.slice(op.length).trim();
    switch (op.toUpperCase()) {
      case 'WORKDIR': stage.workdir = arg; break;
      case 'USER': stage.user = arg; break;
      case 'EXPOSE': stage.expose.push(...rest); break;
      case 'ENV': {
        const m = /^(\S+?)[= ](.*)$/.exec(arg);
        if (m?.[1] && m[2] !== undefined) stage.env[m[1]] = m[2];
        break;
      }
      case 'ENTRYPOINT': stage.entrypoint = JSON.parse(arg) as string[]; break;
      case 'CMD': stage.cmd = JSON.parse(arg) as string[]; break;
      case 'COPY': stage.copies.push(rest[rest.length - 1] ?? ''); break;
      default:
    }
  }
  return stage;
}

describe('the operator image built without Docker', () => {
  const dockerfile = runtimeStage(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));
  const spec = operatorImageSpec('0.0.0-test');

  test('the Dockerfile parses into a runtime stage', () => {
    expect(dockerfile.entrypoint?.length).toBeGreaterThan(0);
    expect(dockerfile.copies.length).toBeGreaterThan(0);
  });

  test('starts as the Dockerfile says: user, working directory, environment, port, entrypoint, command', () => {
    expect(spec.config.User).toBe(dockerfile.user);
    expect(spec.config.WorkingDir).toBe(dockerfile.workdir);
    for (const [k, v] of Object.entries(dockerfile.env)) expect(spec.config.Env).toContain(`${k}=${v}`);
    expect(Object.keys(spec.config.ExposedPorts ?? {}).sort()).toEqual(dockerfile.expose.map((p) => (p.includes('/') ? p : `${p}/tcp`)).sort());
    expect(spec.config.Entrypoint).toEqual(dockerfile.entrypoint);
    expect(spec.config.Cmd).toEqual(dockerfile.cmd);
  });

  test('has the files where the Dockerfile copies them, and node where its entrypoint runs it', () => {
    const copied = dockerfile.copies.map((d) => (d.startsWith('/') ? d : join(dockerfile.workdir ?? '/', d)));
    expect(spec.paths.filter((p) => p !== dockerfile.entrypoint?.[0]).sort()).toEqual(copied.sort());
    expect(spec.paths).toContain(dockerfile.entrypoint?.[0]);
    expect(spec.config.Entrypoint?.[1]).toBe('dist/cli/main.js');
  });
});
