// The Debian tools the integration checks run (.ci/run installs them): a clear one-line error
// when one is missing, rather than a spawn ENOENT.
import { execFileSync } from 'node:child_process';

export function requireTool(bin: string, debianPackage: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`${bin} not found: install Debian's ${debianPackage} package (apt-get install ${debianPackage}; .ci/run does)`);
  }
}
