// A real S3 server for tests: versitygw (Apache-2.0) built from the Go module proxy through the
// wrapper module test/cluster/go/versitygw, cached like the control plane binaries but under its
// own key (${XDG_CACHE_HOME:-$HOME/.cache}/standby-operator/s3/<hash>/bin/versitygw), and run
// with its POSIX backend on a folder: each top-level folder is a bucket.
//
//   const s3 = await startS3Server();              // 127.0.0.1, a free port
//   const s3 = await startS3Server({ site });      // inside a site's network namespace, on its address
//   ... s3.endpoint, s3.accessKey, s3.secretKey ...
//   await s3.stop();
//
//   node test/cluster/s3.ts   builds it (cached) and prints the binary's path
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildToolset, type Toolset } from './build.ts';
import { ClusterError, freePort, runMain, sleep, tail } from './common.ts';
import { inSite, type SiteRecord } from './sites.ts';

export const S3_TOOLSET: Toolset<{ versitygw: string }> = {
  name: 's3',
  targets: [
    {
      module: 'versitygw',
      packages: ['github.com/versity/versitygw/cmd/versitygw'],
      versionOf: 'github.com/versity/versitygw',
      stamp: [],
    },
  ],
  downloadOnly: [],
  binaries: (binDir) => ({ versitygw: join(binDir, 'versitygw') }),
};

/** The versitygw binary, built if the cache has none for the pinned version. */
export async function buildS3Server(): Promise<string> {
  return (await buildToolset(S3_TOOLSET)).bin.versitygw;
}

export interface S3Server {
  /** e.g. http://127.0.0.1:41234 */
  endpoint: string;
  host: string;
  port: number;
  accessKey: string;
  secretKey: string;
  region: string;
  /** The folder that holds the buckets (one folder per bucket). */
  root: string;
  log: string;
  pid: number;
  stop(): Promise<void>;
}

export interface S3Options {
  /** Run inside this site's network namespace, listening on the site's address. */
  site?: SiteRecord;
  /** Default 127.0.0.1 (or the site's address). */
  host?: string;
  port?: number;
  /** Folder for the buckets; default a new temporary folder, removed by stop(). */
  root?: string;
}

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/', method: 'GET', timeout: 1_000 }, (res) => {
      res.resume();
      resolve(true); // any HTTP answer (403 without a signature) means it serves
    });
    req.on('timeout', () => { req.destroy(); });
    req.on('error', () => { resolve(false); });
    req.end();
  });
}

export async function startS3Server(opts: S3Options = {}): Promise<S3Server> {
  const bin = await buildS3Server();
  const host = opts.host ?? opts.site?.address ?? '127.0.0.1';
  const port = opts.port ?? await freePort();
  const own = opts.root === undefined;
  const root = opts.root ?? await mkdtemp(join(tmpdir(), 'standby-s3-'));
  const data = join(root, 'buckets');
  await mkdir(data, { recursive: true });
  const log = join(root, 'versitygw.log');
  const accessKey = `test${randomBytes(6).toString('hex')}`;
  const secretKey = randomBytes(24).toString('hex');
  const region = 'us-east-1';
  const args = ['--access', accessKey, '--secret', secretKey, '--region', region, '--port', `${host}:${port}`, '--quiet', 'posix', data];
  const [cmd, argv] = opts.site === undefined ? [bin, args] : inSite(opts.site, bin, args);
  const fd = openSync(log, 'a');
  let child: ChildProcess;
  try {
    child = spawn(cmd, argv, { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  let exited: string | undefined;
  child.on('exit', (code, signal) => { exited = signal ?? String(code); });
  const pid = child.pid ?? 0;
  const stop = async (): Promise<void> => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      for (let i = 0; i < 100 && exited === undefined; i++) await sleep(50);
      if (exited === undefined) child.kill('SIGKILL');
    }
    if (own) await rm(root, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  while (!(await answers(host, port))) {
    if (exited !== undefined || Date.now() > deadline) {
      const last = tail(readFileSync(log, 'utf8'), 3);
      await stop();
      throw new ClusterError(`versitygw ${exited !== undefined ? `exited (${exited})` : 'did not answer within 30s'} on ${host}:${port}: ${last || 'no output'}`);
    }
    await sleep(100);
  }
  return { endpoint: `http://${host}:${port}`, host, port, accessKey, secretKey, region, root: data, log, pid, stop };
}

if (import.meta.main) {
  runMain(async () => {
    process.stdout.write(`${await buildS3Server()}\n`);
  });
}
