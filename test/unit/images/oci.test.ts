// The OCI writer of the test images: an archive whose index names the image, whose blobs are
// stored under their sha256, whose config lists the layer's diff id, and whose digests are
// the same for the same folder (reproducible layers, so the cache and pinned digests agree).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { MEDIA, repository, writeImage } from '../../cluster/images/oci.ts';

const root = mkdtempSync(join(tmpdir(), 'oci-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function rootfs(name: string, mtime: number): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'bin'), { recursive: true });
  writeFileSync(join(dir, 'bin', 'hello'), '#!/bin/sh\necho hello\n', { mode: 0o755 });
  utimesSync(join(dir, 'bin', 'hello'), mtime, mtime);
  return dir;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('the OCI writer', () => {
  test('repository() drops the tag or digest', () => {
    expect(repository('standby.dev/postgres:15')).toBe('standby.dev/postgres');
    expect(repository('localhost:5000/x/y:1')).toBe('localhost:5000/x/y');
    expect(repository('standby.dev/x@sha256:abc')).toBe('standby.dev/x');
    expect(repository('plain')).toBe('plain');
  });

  test('writes a content-addressed OCI layout that names the image and pins its manifest', async () => {
    const out = join(root, 'a');
    mkdirSync(out);
    const img = await writeImage({ name: 'standby.dev/t:1', layers: [rootfs('fs-a', 1_000)], config: { Cmd: ['/bin/hello'] }, outDir: out });
    expect(img.pinned).toBe(`standby.dev/t@${img.digest}`);
    const x = join(root, 'a-x');
    mkdirSync(x);
    execFileSync('tar', ['-xf', img.archive, '-C', x]);
    const index = JSON.parse(readFileSync(join(x, 'index.json'), 'utf8')) as { manifests: { digest: string; mediaType: string; annotations: Record<string, string> }[] };
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]!.digest).toBe(img.digest);
    expect(index.manifests[0]!.annotations['io.containerd.image.name']).toBe('standby.dev/t:1');
    const blob = (d: string): Buffer => readFileSync(join(x, 'blobs', 'sha256', d.replace('sha256:', '')));
    const manifestBytes = blob(img.digest);
    expect(`sha256:${sha(manifestBytes)}`).toBe(img.digest);
    const manifest = JSON.parse(manifestBytes.toString()) as { mediaType: string; config: { digest: string; size: number }; layers: { digest: string; size: number; mediaType: string }[] };
    expect(manifest.mediaType).toBe(MEDIA.manifest);
    const configBytes = blob(manifest.config.digest);
    expect(configBytes.length).toBe(manifest.config.size);
    const config = JSON.parse(configBytes.toString()) as { config: { Cmd: string[] }; rootfs: { diff_ids: string[] } };
    expect(config.config.Cmd).toEqual(['/bin/hello']);
    expect(config.rootfs.diff_ids).toEqual([manifest.layers[0]!.digest]);
    const layer = blob(manifest.layers[0]!.digest);
    expect(`sha256:${sha(layer)}`).toBe(manifest.layers[0]!.digest);
    expect(execFileSync('tar', ['-tf', '-'], { input: layer }).toString().split('\n')).toContain('./bin/hello');
  });

  test('the same files give the same digest, whatever their mtimes', async () => {
    const a = join(root, 'r1');
    const b = join(root, 'r2');
    mkdirSync(a);
    mkdirSync(b);
    const one = await writeImage({ name: 'standby.dev/t:1', layers: [rootfs('fs-1', 1_000)], config: {}, outDir: a });
    const two = await writeImage({ name: 'standby.dev/t:1', layers: [rootfs('fs-2', 2_000_000)], config: {}, outDir: b });
    expect(two.digest).toBe(one.digest);
  });
});
