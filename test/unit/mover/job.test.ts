// The mover's Job builders.
import { describe, expect, it } from 'vitest';
import * as mover from '../../../src/mover/job.ts';
import type { MoverJobInput } from '../../../src/mover/job.ts';
import { validating } from '../support/models.ts';

// Every Job built is checked against the Kubernetes schema.
const buildBackupJob = validating(mover.buildBackupJob);
const buildRestoreJob = validating(mover.buildRestoreJob);

const input: MoverJobInput = {
  name: 'orders-data-backup-1',
  namespace: 'shop',
  labels: { 'standby.dev/site': 'orders' },
  image: 'ghcr.io/x/standby-operator:1.0',
  imagePullSecrets: ['regcred'],
  location: { endpoint: 'https://s3.example.com', bucket: 'dr', prefix: 'shop/orders', region: 'eu-west-1' },
  credentialsSecret: 's3-keys',
  passwordSecret: { name: 'restic', key: 'pw' },
  volume: 'data',
  claim: 'data-orders-0-clone',
  identity: { host: 'orders-data', tags: ['standby.dev/site=orders'] },
};

describe('buildBackupJob', () => {
  const job = buildBackupJob({ ...input, retention: { keepLast: 7, maxAgeMs: 7 * 86_400_000 } });
  const pod = job.spec!.template.spec!;
  const c = pod.containers[0]!;

  it('runs the mover subcommand with the repository, identity and the site retention', () => {
    expect(c.image).toBe('ghcr.io/x/standby-operator:1.0');
    expect(c.args).toEqual([
      'mover', 'backup', '--source=/data',
      '--repository=s3:https://s3.example.com/dr/shop/orders/data',
      '--password-file=/etc/standby-operator/restic/password',
      '--cache-dir=/cache',
      '--host=orders-data', '--tag=standby.dev/site=orders',
      '--result-file=/dev/termination-log',
      '--keep-last=7', '--max-age=168h0m0s',
    ]);
  });

  it('mounts the claim read-only, the password from its Secret, and writable scratch space only', () => {
    expect(pod.volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: 'data-orders-0-clone', readOnly: true } });
    expect(pod.volumes).toContainEqual({ name: 'password', secret: { secretName: 'restic', items: [{ key: 'pw', path: 'password' }], defaultMode: 0o400 } });
    expect(c.volumeMounts).toContainEqual({ name: 'data', mountPath: '/data', readOnly: true });
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(c.volumeMounts?.filter((m) => m.readOnly !== true).map((m) => m.mountPath).sort()).toEqual(['/cache', '/tmp']);
  });

  it('takes the S3 keys from their Secret, never as values, and needs no API token', () => {
    expect(c.env).toContainEqual({ name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 's3-keys', key: 'AWS_ACCESS_KEY_ID' } } });
    expect(c.env).toContainEqual({ name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 's3-keys', key: 'AWS_SECRET_ACCESS_KEY' } } });
    expect(c.env).toContainEqual({ name: 'AWS_DEFAULT_REGION', value: 'eu-west-1' });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.imagePullSecrets).toEqual([{ name: 'regcred' }]);
  });

  it('runs as the given security context (the workload\'s), else non-root', () => {
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    const asWorkload = buildBackupJob({ ...input, retention: { keepLast: 1 }, securityContext: { runAsUser: 999, fsGroup: 999 } });
    expect(asWorkload.spec!.template.spec!.securityContext).toEqual({ runAsUser: 999, fsGroup: 999 });
  });

  it('is bounded in time and retries', () => {
    expect(job.spec?.activeDeadlineSeconds).toBe(3600);
    expect(job.spec?.backoffLimit).toBe(2);
    expect(pod.restartPolicy).toBe('Never');
  });

  it('refuses to be built without a retention', () => {
    expect(() => buildBackupJob({ ...input, retention: {} })).toThrow('a backup Job needs a retention (keepLast, maxAge or both)');
  });

  it('trusts mtimes and a private CA only when asked', () => {
    expect(c.args).not.toContain('--trust-mtime');
    const j = buildBackupJob({ ...input, retention: { keepLast: 1 }, trustMtime: true, caSecret: { name: 's3-ca', key: 'ca.pem' } });
    const cc = j.spec!.template.spec!.containers[0]!;
    expect(cc.args).toContain('--trust-mtime');
    expect(cc.args).toContain('--cacert=/etc/standby-operator/s3-ca/ca.crt');
    expect(j.spec!.template.spec!.volumes).toContainEqual({ name: 'ca', secret: { secretName: 's3-ca', items: [{ key: 'ca.pem', path: 'ca.crt' }] } });
  });
});

describe('buildRestoreJob', () => {
  it('writes into the claim (read-write) from the given snapshot', () => {
    const job = buildRestoreJob({ ...input, claim: 'data-orders-standby-0', snapshot: 'latest' });
    const pod = job.spec!.template.spec!;
    expect(pod.containers[0]!.args?.slice(0, 4)).toEqual(['mover', 'restore', '--target=/data', '--snapshot=latest']);
    expect(pod.volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: 'data-orders-standby-0', readOnly: false } });
    expect(pod.containers[0]!.args).not.toContain('--keep-last=7');
  });
});
