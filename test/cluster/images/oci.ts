// A small OCI image writer: one uncompressed layer per root file system folder, an image
// config, a manifest and an OCI image layout packed as a tar that `ctr images import` reads.
// Written by hand because it is ~100 lines over GNU tar, while crane (go-containerregistry)
// would be one more Go build in the cold CI path for the same four JSON documents.
//
// Layers are made reproducible (sorted names, mtime 0, numeric owners, no atime/ctime), so
// the same inputs give the same digests.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClusterError, run, tail } from '../common.ts';

export const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

/** The part of an OCI image config that says how a container starts. */
export interface RunConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Labels?: Record<string, string>;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface WrittenImage {
  /** e.g. `standby.dev/postgres:15` */
  name: string;
  /** sha256 of the manifest: what a pod pins (`name@digest`). */
  digest: string;
  /** `repository@sha256:...` */
  pinned: string;
  /** The OCI archive to import. */
  archive: string;
  config: RunConfig;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function tar(args: string[], what: string): Promise<void> {
  const res = await run('tar', args);
  if (res.code !== 0) throw new ClusterError(`${what} failed: ${tail(res.stderr, 3)}`);
}

/** The repository part of an image name (`standby.dev/postgres:15` → `standby.dev/postgres`). */
export function repository(name: string): string {
  const at = name.indexOf('@');
  const base = at >= 0 ? name.slice(0, at) : name;
  const slash = base.lastIndexOf('/');
  const colon = base.lastIndexOf(':');
  return colon > slash ? base.slice(0, colon) : base;
}

/**
 * Writes an OCI archive for an image whose layers are the given folders (lowest first) into
 * `outDir/image.tar`, and returns its manifest digest.
 */
export async function writeImage(o: { name: string; layers: string[]; config: RunConfig; outDir: string }): Promise<WrittenImage> {
  const layout = join(o.outDir, 'layout');
  const blobs = join(layout, 'blobs', 'sha256');
  await rm(layout, { recursive: true, force: true });
  await mkdir(blobs, { recursive: true });

  const layerDescs: Descriptor[] = [];
  const diffIds: string[] = [];
  for (const [i, dir] of o.layers.entries()) {
    const tmp = join(o.outDir, `layer-${i}.tar`);
    await tar([
      '--create', '--file', tmp, '--directory', dir,
      '--sort=name', '--mtime=@0', '--numeric-owner', '--format=posix',
      '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
      '.',
    ], `packing the layer ${dir}`);
    const digest = await sha256File(tmp);
    await rename(tmp, join(blobs, digest));
    layerDescs.push({ mediaType: MEDIA.layer, digest: `sha256:${digest}`, size: (await stat(join(blobs, digest))).size });
    diffIds.push(`sha256:${digest}`); // uncompressed: the diff id is the layer digest
  }

  const configJson = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: o.config,
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: o.layers.map(() => ({ created_by: 'test/cluster/images (standby-operator)' })),
  });
  const configDigest = sha256(configJson);
  await writeFile(join(blobs, configDigest), configJson);

  const manifestJson = JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: { mediaType: MEDIA.config, digest: `sha256:${configDigest}`, size: Buffer.byteLength(configJson) },
    layers: layerDescs,
  });
  const manifestDigest = sha256(manifestJson);
  await writeFile(join(blobs, manifestDigest), manifestJson);

  const tag = o.name.slice(repository(o.name).length + 1) || 'latest';
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: [{
      mediaType: MEDIA.manifest,
      digest: `sha256:${manifestDigest}`,
      size: Buffer.byteLength(manifestJson),
      // containerd names the imported image after io.containerd.image.name.
      annotations: { 'io.containerd.image.name': o.name, 'org.opencontainers.image.ref.name': tag },
    }],
  }));
  const archive = join(o.outDir, 'image.tar');
  await tar(['--create', '--file', `${archive}.tmp`, '--directory', layout, '--sort=name', '--mtime=@0', '--numeric-owner', '--owner=0', '--group=0', '.'], 'packing the OCI archive');
  await rename(`${archive}.tmp`, archive);
  await rm(layout, { recursive: true, force: true });
  const digest = `sha256:${manifestDigest}`;
  return { name: o.name, digest, pinned: `${repository(o.name)}@${digest}`, archive, config: o.config };
}
