// Fake storage for the test control plane: kwok runs no storage, so this small process stands
// in for a CSI driver's external-provisioner and the snapshot controller + csi-snapshotter.
//
// - StorageClass `standard` (the default class) and VolumeSnapshotClass `fake-snapclass`
//   (the default snapshot class), both for the driver `fake.standby.dev`.
// - Provisioner: for every Pending PVC of a class of this driver it creates a folder under
//   --volumes-dir (mode 0777: kubelets apply no fsGroup to hostPath volumes) and a hostPath PV
//   on it whose claimRef points at the PVC, and the PV controller binds the two. On real nodes
//   pods use these folders, so the volumes hold data. A PVC with a `dataSource` (VolumeSnapshot
//   or PVC) waits until its source is ready, as a CSI provisioner does, gets a copy of the
//   source's folder (the snapshot's, or the source PV's), and the PV records the source in the
//   annotation `fake.standby.dev/data-source` (`VolumeSnapshot/<ns>/<name>`). Released PVs of
//   this driver with reclaim policy Delete are deleted, with their folders.
// - Snapshotter: for every VolumeSnapshot of a class of this driver (or with no class) whose
//   source PVC is Bound it copies the source PV's folder to <snapshots-dir>/<content name>
//   (`cp -a`: crash-consistent only if nothing writes meanwhile, as with a real volume without
//   a filesystem freeze), creates a VolumeSnapshotContent and fills in the VolumeSnapshot's
//   status (boundVolumeSnapshotContentName, creationTime, readyToUse, restoreSize). Annotations
//   on the VolumeSnapshot steer it in tests:
//     fake.standby.dev/snapshot-delay: "10s"   readyToUse only after this long (ms, s, m)
//     fake.standby.dev/snapshot-error: "text"  never ready; status.error.message = text
//   A missing source PVC is reported in status.error and retried. Contents of deleted
//   snapshots (deletionPolicy Delete) are deleted.
//
// It is level based: list + watch caches of PVCs, PVs, VolumeSnapshots and contents, and a
// serial reconcile of everything after each change and every few seconds. A failed list or
// watch is retried with exponential backoff (re-listing), so it survives API server restarts.
//
//   node test/cluster/storage.ts --kubeconfig=FILE [--volumes-dir=DIR] [--snapshots-dir=DIR]
// or import { startFakeStorage } from './storage.ts'.
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  StorageV1Api,
  Watch,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

export const DRIVER = 'fake.standby.dev';
export const STORAGE_CLASS = 'standard';
export const SNAPSHOT_CLASS = 'fake-snapclass';
export const ANNOTATION_DATA_SOURCE = `${DRIVER}/data-source`;
export const ANNOTATION_SNAPSHOT_DELAY = `${DRIVER}/snapshot-delay`;
export const ANNOTATION_SNAPSHOT_ERROR = `${DRIVER}/snapshot-error`;

const SNAP_GROUP = 'snapshot.storage.k8s.io';
const SNAP_VERSION = 'v1';
const RESYNC_MS = 3_000;

// Only the fields this process reads. Objects arrive both from typed list calls and as raw
// watch JSON, so timestamps are `unknown` and only checked for presence.
interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  annotations?: Record<string, string>;
  deletionTimestamp?: unknown;
  resourceVersion?: string;
}
interface Obj { metadata?: Meta }
interface DataSource { apiGroup?: string; kind?: string; name?: string }
interface Pvc extends Obj {
  spec?: {
    storageClassName?: string;
    volumeName?: string;
    accessModes?: string[];
    volumeMode?: string;
    resources?: { requests?: Record<string, unknown> };
    dataSource?: DataSource;
    dataSourceRef?: DataSource & { namespace?: string };
  };
  status?: { phase?: string };
}
interface Pv extends Obj {
  spec?: {
    storageClassName?: string;
    persistentVolumeReclaimPolicy?: string;
    capacity?: Record<string, unknown>;
    hostPath?: { path?: string };
    claimRef?: { namespace?: string; name?: string; uid?: string };
  };
  status?: { phase?: string };
}
interface SnapshotStatus {
  boundVolumeSnapshotContentName?: string;
  creationTime?: string;
  readyToUse?: boolean;
  restoreSize?: string;
  error?: { message?: string; time?: string } | null;
}
interface VolumeSnapshot extends Obj {
  spec?: { volumeSnapshotClassName?: string; source?: { persistentVolumeClaimName?: string; volumeSnapshotContentName?: string } };
  status?: SnapshotStatus;
}
interface SnapshotContent extends Obj {
  spec?: { driver?: string; deletionPolicy?: string; volumeSnapshotRef?: { namespace?: string; name?: string; uid?: string } };
  status?: { readyToUse?: boolean; creationTime?: number };
}
interface SnapshotClass extends Obj { driver?: string; deletionPolicy?: string }
interface StorageClassView extends Obj { provisioner?: string }

export interface FakeStorageOptions {
  kubeconfig?: string;
  /** hostPath base of the fake PVs: one folder per PV. */
  volumesDir?: string;
  /** Where snapshots' copies go (default: `snapshots` beside volumesDir). */
  snapshotsDir?: string;
  log?: (message: string) => void;
}

export interface FakeStorage {
  stop(): Promise<void>;
}

const key = (o: Obj): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/**
 * A list + watch cache of one resource. Any list or watch failure (including the resource
 * not existing yet) is retried with exponential backoff from a fresh list.
 */
class Reflector<T extends Obj> {
  readonly items = new Map<string, T>();
  synced = false;
  private stopped = false;
  private abort: AbortController | undefined;
  private wake: (() => void) | undefined;
  private readonly name: string;
  private readonly path: string;
  private readonly list: () => Promise<{ items: T[]; resourceVersion: string }>;
  private readonly watch: Watch;
  private readonly onChange: () => void;
  private readonly log: (m: string) => void;

  constructor(name: string, path: string, list: () => Promise<{ items: T[]; resourceVersion: string }>, watch: Watch, onChange: () => void, log: (m: string) => void) {
    this.name = name;
    this.path = path;
    this.list = list;
    this.watch = watch;
    this.onChange = onChange;
    this.log = log;
  }

  async run(): Promise<void> {
    let backoff = 250;
    let resourceVersion: string | undefined; // undefined: (re-)list first
    while (!this.stopped) {
      try {
        if (resourceVersion === undefined) {
          const list = await this.list();
          this.items.clear();
          for (const it of list.items) this.items.set(key(it), it);
          this.synced = true;
          this.onChange();
          resourceVersion = list.resourceVersion;
        }
        // Ends cleanly when the server closes the watch or it is idle for 30 s (the client's
        // inactivity timeout): then watch again from the last version seen, without a list.
        resourceVersion = await this.watchFrom(resourceVersion);
        backoff = 250;
      } catch (err) {
        if (this.isStopped()) break;
        resourceVersion = undefined;
        this.log(`${this.name}: list/watch failed (${describe(err)}); re-listing in ${backoff}ms`);
        await new Promise<void>((r) => {
          this.wake = r;
          setTimeout(r, backoff);
        });
        backoff = Math.min(backoff * 2, 15_000);
      }
    }
  }

  /** Resolves with the last resourceVersion seen when the watch ends normally; rejects on errors. */
  private watchFrom(resourceVersion: string): Promise<string> {
    let last = resourceVersion;
    return new Promise<string>((resolvePromise, reject) => {
      let settled = false;
      const finish = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        this.abort?.abort();
        if (err === undefined || err === null || (err as { name?: unknown }).name === 'TimeoutError') resolvePromise(last);
        else reject(err instanceof Error ? err : new Error(describe(err)));
      };
      this.watch.watch(this.path, { resourceVersion, allowWatchBookmarks: true }, (phase: string, obj: unknown) => {
        const o = obj as T;
        const rv = o.metadata?.resourceVersion;
        switch (phase) {
          case 'ADDED':
          case 'MODIFIED':
            this.items.set(key(o), o);
            this.onChange();
            break;
          case 'DELETED':
            this.items.delete(key(o));
            this.onChange();
            break;
          case 'ERROR': // e.g. 410 Gone: the version is too old; re-list
            finish(new Error(`watch error: ${JSON.stringify(obj).slice(0, 200)}`));
            return;
          default: // BOOKMARK: only moves the resourceVersion on
        }
        if (rv !== undefined && rv !== '') last = rv;
      }, (err: unknown) => { finish(err); }).then((ac) => {
        this.abort = ac;
        if (this.stopped || settled) ac.abort();
      }, (err: unknown) => { finish(err); });
    });
  }

  isStopped(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
    this.wake?.();
  }
}

function describe(err: unknown): string {
  if (err instanceof ApiException) {
    const body: unknown = err.body;
    const msg = typeof body === 'string' ? body : JSON.stringify(body);
    return `HTTP ${err.code}: ${msg.slice(0, 200)}`;
  }
  return err instanceof Error ? err.message : String(err);
}

function isCode(err: unknown, code: number): boolean {
  return err instanceof ApiException && err.code === code;
}

/** Parses a duration such as `1500ms`, `10s`, `2m` or a plain number of seconds. */
export function parseDelay(text: string | undefined): number {
  if (text === undefined) return 0;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(text);
  if (!m) return 0;
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}

const QUANTITY_FACTORS: Record<string, number> = {
  '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** Bytes of a resource quantity such as `1Gi` or `500M` (0 when it cannot be read). */
export function quantityBytes(q: unknown): number {
  const m = /^(\d+(?:\.\d+)?)([a-zA-Z]*)$/.exec(typeof q === 'string' ? q.trim() : typeof q === 'number' ? String(q) : '');
  const factor = m ? QUANTITY_FACTORS[m[2] ?? ''] : undefined;
  return m && factor !== undefined ? Math.ceil(Number(m[1]) * factor) : 0;
}

function quantityString(q: unknown): string | undefined {
  if (typeof q === 'string') return q;
  if (typeof q === 'number') return String(q);
  return undefined;
}

/** `cp -a SRC/. DST/`: a folder's files with owners and modes (a snapshot, a restore, a clone). */
function copyTree(src: string, dst: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    execFile('cp', ['-a', `${src}/.`, `${dst}/`], (err, _out, stderr) => {
      if (err) reject(new Error(`cp -a ${src} ${dst} failed: ${stderr.trim() || err.message}`));
      else resolvePromise();
    });
  });
}

/** Starts the fake provisioner and snapshotter. Resolves once it runs (caches filling). */
export async function startFakeStorage(opts: FakeStorageOptions = {}): Promise<FakeStorage> {
  const log = opts.log ?? ((m: string) => { process.stdout.write(`${new Date().toISOString()} ${m}\n`); });
  const kc = new KubeConfig();
  if (opts.kubeconfig !== undefined) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  const volumesDir = opts.volumesDir ?? '/tmp/standby-fake-volumes';
  const snapshotsDir = opts.snapshotsDir ?? join(dirname(volumesDir), 'snapshots');
  const core = kc.makeApiClient(CoreV1Api);
  const storage = kc.makeApiClient(StorageV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const watch = new Watch(kc);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

  let stopped = false;
  let running = false;
  let dirty = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (delayMs = 50): void => {
    if (stopped) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => { void reconcile(); }, delayMs);
  };
  const onChange = (): void => { dirty = true; schedule(); };
  const isDirty = (): boolean => dirty; // read through a call: set by callbacks during awaits

  const pvcs = new Reflector<Pvc>('persistentvolumeclaims', '/api/v1/persistentvolumeclaims', async () => {
    const l = await core.listPersistentVolumeClaimForAllNamespaces();
    return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? '' };
  }, watch, onChange, log);
  const pvs = new Reflector<Pv>('persistentvolumes', '/api/v1/persistentvolumes', async () => {
    const l = await core.listPersistentVolume();
    return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? '' };
  }, watch, onChange, log);
  const customReflector = <T extends Obj>(plural: string): Reflector<T> =>
    new Reflector<T>(plural, `/apis/${SNAP_GROUP}/${SNAP_VERSION}/${plural}`, async () => {
      const l = await custom.listClusterCustomObject({ group: SNAP_GROUP, version: SNAP_VERSION, plural }) as { items?: T[]; metadata?: { resourceVersion?: string } };
      return { items: l.items ?? [], resourceVersion: l.metadata?.resourceVersion ?? '' };
    }, watch, onChange, log);
  const snapshots = customReflector<VolumeSnapshot>('volumesnapshots');
  const contents = customReflector<SnapshotContent>('volumesnapshotcontents');
  const snapshotClasses = customReflector<SnapshotClass>('volumesnapshotclasses');
  const storageClasses = new Reflector<StorageClassView>('storageclasses', '/apis/storage.k8s.io/v1/storageclasses', async () => {
    const l = await storage.listStorageClass();
    return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? '' };
  }, watch, onChange, log);
  const reflectors = [pvcs, pvs, snapshots, contents, snapshotClasses, storageClasses];

  // -- classes ---------------------------------------------------------------------------------
  let classesDone = { storage: false, snapshot: false };
  async function ensureClasses(): Promise<void> {
    if (!classesDone.storage) {
      try {
        await objects.create({
            apiVersion: 'storage.k8s.io/v1',
            kind: 'StorageClass',
            metadata: { name: STORAGE_CLASS, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
            provisioner: DRIVER,
            reclaimPolicy: 'Delete',
            volumeBindingMode: 'Immediate',
            allowVolumeExpansion: true,
        });
        log(`created StorageClass ${STORAGE_CLASS}`);
        classesDone = { ...classesDone, storage: true };
      } catch (err) {
        if (isCode(err, 409)) classesDone = { ...classesDone, storage: true };
        else log(`creating StorageClass ${STORAGE_CLASS} failed: ${describe(err)}`);
      }
    }
    if (!classesDone.snapshot) {
      try {
        await custom.createClusterCustomObject({
          group: SNAP_GROUP, version: SNAP_VERSION, plural: 'volumesnapshotclasses',
          body: {
            apiVersion: `${SNAP_GROUP}/${SNAP_VERSION}`,
            kind: 'VolumeSnapshotClass',
            metadata: { name: SNAPSHOT_CLASS, annotations: { 'snapshot.storage.kubernetes.io/is-default-class': 'true' } },
            driver: DRIVER,
            deletionPolicy: 'Delete',
          },
        });
        log(`created VolumeSnapshotClass ${SNAPSHOT_CLASS}`);
        classesDone = { ...classesDone, snapshot: true };
      } catch (err) {
        if (isCode(err, 409)) classesDone = { ...classesDone, snapshot: true };
        else log(`creating VolumeSnapshotClass ${SNAPSHOT_CLASS} failed (CRDs installed?): ${describe(err)}`);
      }
    }
  }

  const ourStorageClass = (name: string | undefined): boolean => {
    if (name === undefined || name === '') return false;
    const sc = storageClasses.items.get(`/${name}`);
    return name === STORAGE_CLASS || sc?.provisioner === DRIVER;
  };
  const ourSnapshotClass = (name: string | undefined): boolean => {
    if (name === undefined || name === '') return true; // no class: the default class is ours
    const c = snapshotClasses.items.get(`/${name}`);
    return name === SNAPSHOT_CLASS || c?.driver === DRIVER;
  };

  // -- provisioner -----------------------------------------------------------------------------
  /** Why a PVC's data source is not usable yet, or its description when it is. */
  function dataSourceOf(pvc: Pvc): { ready: true; text?: string; minBytes: number; folder?: string } | { ready: false; why: string } {
    const ns = pvc.metadata?.namespace ?? '';
    const src = pvc.spec?.dataSourceRef ?? pvc.spec?.dataSource;
    if (src?.name === undefined || src.kind === undefined) return { ready: true, minBytes: 0 };
    const srcNs = (src as { namespace?: string }).namespace ?? ns;
    if (src.kind === 'VolumeSnapshot' && src.apiGroup === SNAP_GROUP) {
      const vs = snapshots.items.get(`${srcNs}/${src.name}`);
      if (!vs) return { ready: false, why: `VolumeSnapshot ${srcNs}/${src.name} not found` };
      if (vs.status?.readyToUse !== true) return { ready: false, why: `VolumeSnapshot ${srcNs}/${src.name} is not ready to use` };
      const content = vs.status.boundVolumeSnapshotContentName;
      return { ready: true, text: `VolumeSnapshot/${srcNs}/${src.name}`, minBytes: quantityBytes(vs.status.restoreSize), ...(content ? { folder: join(snapshotsDir, content) } : {}) };
    }
    if (src.kind === 'PersistentVolumeClaim' && (src.apiGroup ?? '') === '') {
      const source = pvcs.items.get(`${srcNs}/${src.name}`);
      if (source?.status?.phase !== 'Bound') return { ready: false, why: `PersistentVolumeClaim ${srcNs}/${src.name} is not Bound` };
      const pv = source.spec?.volumeName === undefined ? undefined : pvs.items.get(`/${source.spec.volumeName}`);
      const folder = pv?.spec?.hostPath?.path;
      return { ready: true, text: `PersistentVolumeClaim/${srcNs}/${src.name}`, minBytes: quantityBytes(source.spec?.resources?.requests?.storage), ...(folder ? { folder } : {}) };
    }
    return { ready: false, why: `data source kind ${src.kind} is not supported by ${DRIVER}` };
  }

  const waitingLogged = new Map<string, string>();
  async function provision(pvc: Pvc): Promise<void> {
    const meta = pvc.metadata ?? {};
    const pvName = `pvc-${meta.uid ?? ''}`;
    if (pvs.items.has(`/${pvName}`)) return;
    const source = dataSourceOf(pvc);
    const pvcKey = key(pvc);
    if (!source.ready) {
      if (waitingLogged.get(pvcKey) !== source.why) log(`PVC ${pvcKey} waits: ${source.why}`);
      waitingLogged.set(pvcKey, source.why);
      return;
    }
    const request = pvc.spec?.resources?.requests?.storage;
    if (quantityBytes(request) < source.minBytes) {
      const why = `requested ${quantityString(request) ?? '?'} is smaller than the source (${source.minBytes} bytes)`;
      if (waitingLogged.get(pvcKey) !== why) log(`PVC ${pvcKey} cannot be provisioned: ${why}`);
      waitingLogged.set(pvcKey, why);
      return;
    }
    waitingLogged.delete(pvcKey);
    const folder = join(volumesDir, pvName);
    await rm(folder, { recursive: true, force: true }); // a copy interrupted before its PV existed
    await mkdir(folder, { recursive: true });
    await chmod(folder, 0o777);
    if (source.folder !== undefined && existsSync(source.folder)) {
      await copyTree(source.folder, folder);
      log(`copied ${source.text ?? source.folder} into ${folder}`);
    }
    const annotations: Record<string, string> = { 'pv.kubernetes.io/provisioned-by': DRIVER };
    if (source.text !== undefined) annotations[ANNOTATION_DATA_SOURCE] = source.text;
    try {
      await objects.create({
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: { name: pvName, annotations },
          spec: {
            capacity: { storage: quantityString(request) ?? '1Gi' },
            accessModes: pvc.spec?.accessModes ?? ['ReadWriteOnce'],
            volumeMode: pvc.spec?.volumeMode ?? 'Filesystem',
            persistentVolumeReclaimPolicy: 'Delete',
            storageClassName: pvc.spec?.storageClassName ?? STORAGE_CLASS,
            claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: meta.namespace ?? '', name: meta.name ?? '', uid: meta.uid ?? '' },
            hostPath: { path: folder, type: 'Directory' },
          },
      });
      log(`provisioned PV ${pvName} for PVC ${pvcKey}${source.text === undefined ? '' : ` from ${source.text}`}`);
    } catch (err) {
      if (!isCode(err, 409)) log(`creating PV ${pvName} failed: ${describe(err)}`);
    }
  }

  async function deleteReleased(pv: Pv): Promise<void> {
    const name = pv.metadata?.name ?? '';
    try {
      const ref = { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name } };
      await objects.delete(ref);
      await rm(join(volumesDir, name), { recursive: true, force: true });
      log(`deleted released PV ${name} and its folder`);
    } catch (err) {
      if (!isCode(err, 404)) log(`deleting PV ${name} failed: ${describe(err)}`);
    }
  }

  // -- snapshotter -----------------------------------------------------------------------------
  async function patchSnapshotStatus(vs: VolumeSnapshot, status: SnapshotStatus): Promise<void> {
    const cur = vs.status ?? {};
    const same = cur.boundVolumeSnapshotContentName === status.boundVolumeSnapshotContentName
      && cur.readyToUse === status.readyToUse
      && cur.restoreSize === status.restoreSize
      && (cur.error?.message ?? null) === (status.error?.message ?? null)
      && (status.creationTime === undefined || cur.creationTime === status.creationTime);
    if (same) return;
    await custom.patchNamespacedCustomObjectStatus({
      group: SNAP_GROUP, version: SNAP_VERSION, plural: 'volumesnapshots',
      namespace: vs.metadata?.namespace ?? '', name: vs.metadata?.name ?? '',
      body: { status },
    }, mergePatch);
  }

  /** Returns the time (ms since epoch) at which it should be looked at again, if any. */
  async function snapshot(vs: VolumeSnapshot): Promise<number | undefined> {
    const meta = vs.metadata ?? {};
    const ns = meta.namespace ?? '';
    const vsKey = key(vs);
    const contentName = `snapcontent-${meta.uid ?? ''}`;
    const annotations = meta.annotations ?? {};
    const pvcName = vs.spec?.source?.persistentVolumeClaimName;
    if (pvcName === undefined) return undefined; // pre-provisioned contents are not simulated
    let content = contents.items.get(`/${contentName}`);

    if (content === undefined) {
      const failure = annotations[ANNOTATION_SNAPSHOT_ERROR];
      const pvc = pvcs.items.get(`${ns}/${pvcName}`);
      const pv = pvc?.spec?.volumeName === undefined ? undefined : pvs.items.get(`/${pvc.spec.volumeName}`);
      const problem = failure ?? (pvc === undefined
        ? `source PersistentVolumeClaim ${ns}/${pvcName} not found`
        : pvc.status?.phase !== 'Bound' || pv === undefined ? `source PersistentVolumeClaim ${ns}/${pvcName} is not bound` : undefined);
      if (problem !== undefined) {
        if (vs.status?.error?.message !== problem) {
          log(`VolumeSnapshot ${vsKey}: ${problem}`);
          await patchSnapshotStatus(vs, { readyToUse: false, error: { message: problem, time: new Date().toISOString() } });
        }
        return failure === undefined ? Date.now() + RESYNC_MS : undefined;
      }
      const restoreBytes = quantityBytes(pv?.spec?.capacity?.storage ?? pvc?.spec?.resources?.requests?.storage);
      const sourceFolder = pv?.spec?.hostPath?.path;
      const copy = join(snapshotsDir, contentName);
      await rm(copy, { recursive: true, force: true });
      await mkdir(copy, { recursive: true });
      if (sourceFolder !== undefined && existsSync(sourceFolder)) await copyTree(sourceFolder, copy);
      const body: Record<string, unknown> = {
        apiVersion: `${SNAP_GROUP}/${SNAP_VERSION}`,
        kind: 'VolumeSnapshotContent',
        metadata: { name: contentName, annotations: { [`${DRIVER}/source-pvc`]: `${ns}/${pvcName}` } },
        spec: {
          driver: DRIVER,
          deletionPolicy: snapshotClasses.items.get(`/${vs.spec?.volumeSnapshotClassName ?? SNAPSHOT_CLASS}`)?.deletionPolicy ?? 'Delete',
          source: { volumeHandle: pv?.metadata?.name ?? '' },
          volumeSnapshotClassName: vs.spec?.volumeSnapshotClassName ?? SNAPSHOT_CLASS,
          volumeSnapshotRef: { apiVersion: `${SNAP_GROUP}/${SNAP_VERSION}`, kind: 'VolumeSnapshot', namespace: ns, name: meta.name ?? '', uid: meta.uid ?? '' },
        },
      };
      try {
        content = await custom.createClusterCustomObject({ group: SNAP_GROUP, version: SNAP_VERSION, plural: 'volumesnapshotcontents', body }) as SnapshotContent;
        log(`created VolumeSnapshotContent ${contentName} for VolumeSnapshot ${vsKey} (PVC ${pvcName})`);
      } catch (err) {
        if (!isCode(err, 409)) throw err;
        return Date.now() + 500; // in the cache soon
      }
      const createdNs = Date.now() * 1_000_000;
      await custom.patchClusterCustomObjectStatus({
        group: SNAP_GROUP, version: SNAP_VERSION, plural: 'volumesnapshotcontents', name: contentName,
        body: { status: { snapshotHandle: `fake-${meta.uid ?? ''}`, creationTime: createdNs, readyToUse: false, restoreSize: restoreBytes } },
      }, mergePatch);
      content = { ...content, status: { readyToUse: false, creationTime: createdNs } };
    }

    // Bound: ready once the optional delay has passed since the content was created.
    const created = content.status?.creationTime;
    const createdMs = typeof created === 'number' ? Math.floor(created / 1_000_000) : Date.now();
    const readyAt = createdMs + parseDelay(annotations[ANNOTATION_SNAPSHOT_DELAY]);
    const ready = annotations[ANNOTATION_SNAPSHOT_ERROR] === undefined && Date.now() >= readyAt;
    if (ready && content.status?.readyToUse !== true) {
      await custom.patchClusterCustomObjectStatus({
        group: SNAP_GROUP, version: SNAP_VERSION, plural: 'volumesnapshotcontents', name: contentName,
        body: { status: { readyToUse: true } },
      }, mergePatch);
    }
    const pvc = pvcs.items.get(`${ns}/${pvcName}`);
    const pv = pvc?.spec?.volumeName === undefined ? undefined : pvs.items.get(`/${pvc.spec.volumeName}`);
    const restoreSize = vs.status?.restoreSize ?? quantityString(pv?.spec?.capacity?.storage ?? pvc?.spec?.resources?.requests?.storage) ?? '0';
    const failure = annotations[ANNOTATION_SNAPSHOT_ERROR];
    await patchSnapshotStatus(vs, {
      boundVolumeSnapshotContentName: contentName,
      creationTime: vs.status?.creationTime ?? new Date(createdMs).toISOString(),
      readyToUse: ready,
      restoreSize,
      error: failure === undefined ? null : { message: failure, time: new Date().toISOString() },
    });
    if (ready && vs.status?.readyToUse !== true) log(`VolumeSnapshot ${vsKey} is ready to use`);
    return ready || failure !== undefined ? undefined : readyAt;
  }

  async function deleteOrphanContent(c: SnapshotContent): Promise<void> {
    const name = c.metadata?.name ?? '';
    try {
      await custom.deleteClusterCustomObject({ group: SNAP_GROUP, version: SNAP_VERSION, plural: 'volumesnapshotcontents', name });
      await rm(join(snapshotsDir, name), { recursive: true, force: true });
      log(`deleted VolumeSnapshotContent ${name} and its copy (its VolumeSnapshot is gone)`);
    } catch (err) {
      if (!isCode(err, 404)) log(`deleting VolumeSnapshotContent ${name} failed: ${describe(err)}`);
    }
  }

  // -- reconcile -------------------------------------------------------------------------------
  async function reconcile(): Promise<void> {
    if (stopped) return;
    if (running) { dirty = true; return; }
    running = true;
    dirty = false;
    let next = Date.now() + RESYNC_MS;
    try {
      await ensureClasses();
      if (pvcs.synced && pvs.synced && storageClasses.synced) {
        for (const pvc of pvcs.items.values()) {
          if (pvc.metadata?.deletionTimestamp || pvc.status?.phase !== 'Pending') continue;
          if (!ourStorageClass(pvc.spec?.storageClassName)) continue;
          await provision(pvc).catch((err: unknown) => { log(`PVC ${key(pvc)}: ${describe(err)}`); });
        }
        for (const pv of pvs.items.values()) {
          const ann = pv.metadata?.annotations ?? {};
          if (ann['pv.kubernetes.io/provisioned-by'] === DRIVER && pv.status?.phase === 'Released'
            && pv.spec?.persistentVolumeReclaimPolicy === 'Delete' && !pv.metadata?.deletionTimestamp) {
            await deleteReleased(pv);
          }
        }
      }
      if (snapshots.synced && contents.synced && snapshotClasses.synced && pvcs.synced && pvs.synced) {
        for (const vs of snapshots.items.values()) {
          if (vs.metadata?.deletionTimestamp || !ourSnapshotClass(vs.spec?.volumeSnapshotClassName)) continue;
          try {
            const at = await snapshot(vs);
            if (at !== undefined) next = Math.min(next, at);
          } catch (err) {
            log(`VolumeSnapshot ${key(vs)}: ${describe(err)}`);
          }
        }
        for (const c of contents.items.values()) {
          const ref = c.spec?.volumeSnapshotRef;
          if (c.spec?.driver !== DRIVER || c.spec.deletionPolicy !== 'Delete' || c.metadata?.deletionTimestamp) continue;
          const vs = snapshots.items.get(`${ref?.namespace ?? ''}/${ref?.name ?? ''}`);
          if (vs === undefined || vs.metadata?.uid !== ref?.uid) await deleteOrphanContent(c);
        }
      }
    } catch (err) {
      log(`reconcile failed: ${describe(err)}`);
    } finally {
      running = false;
    }
    schedule(isDirty() ? 50 : Math.max(50, next - Date.now()));
  }

  for (const r of reflectors) void r.run();
  await ensureClasses();
  schedule(0);
  log(`fake storage running (driver ${DRIVER}, StorageClass ${STORAGE_CLASS}, VolumeSnapshotClass ${SNAPSHOT_CLASS})`);

  return {
    stop(): Promise<void> {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      for (const r of reflectors) r.stop();
      return Promise.resolve();
    },
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { kubeconfig: { type: 'string' }, 'volumes-dir': { type: 'string' }, 'snapshots-dir': { type: 'string' } },
  });
  const handle = await startFakeStorage({ kubeconfig: values.kubeconfig, volumesDir: values['volumes-dir'], snapshotsDir: values['snapshots-dir'] });
  const shutdown = (): void => {
    void handle.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}
