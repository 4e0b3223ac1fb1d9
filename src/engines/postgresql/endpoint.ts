// A PostgreSQL primary in another cluster (spec.primary.cluster): the standby's site reaches it
// only through engine.postgresql.primaryEndpoint, always over TLS with sslmode=verify-full
// against the CA in caSecret. The same address serves the standby's bootstrap (slot,
// synchronous_standby_names, pg_basebackup), its streaming (primary_conninfo) and the operator's
// lag probe, so nothing of the data path needs more of the primary's cluster than its address:
// the remote Role (chart remoteAccess) stays as it is. Pure, but for checkEndpoint's Secret read.
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { V1PodTemplateSpec, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { StandbySite } from '../../api/site.ts';
import type { EngineIO } from '../engine.ts';
import type { ServerAddress } from './commands.ts';
import type { PgErrorLike } from './errors.ts';
import type { PostgresqlSpec } from './settings.ts';

export type PrimaryEndpoint = NonNullable<PostgresqlSpec['primaryEndpoint']>;

export const ENDPOINT_FIELD = 'spec.engine.postgresql.primaryEndpoint';
export const CA_FIELD = `${ENDPOINT_FIELD}.caSecret`;
/** Where the CA Secret is mounted (read-only) in the standby's init container and postgres container. */
export const PRIMARY_CA_DIR = '/etc/standby-operator/primary-ca';
export const PRIMARY_CA_FILE = `${PRIMARY_CA_DIR}/ca.crt`;
export const PRIMARY_CA_VOLUME = 'standby-operator-primary-ca';

/** The endpoint when the primary is in another cluster; undefined for a primary in this cluster. */
export function crossSiteEndpoint(site: StandbySite): PrimaryEndpoint | undefined {
  if (site.spec.primary.cluster === undefined) return undefined;
  return site.spec.engine.postgresql?.primaryEndpoint;
}

/** The primary as the standby's pods reach it across sites: the endpoint, verify-full against the mounted CA. */
export function endpointAddress(e: PrimaryEndpoint, database: string): ServerAddress {
  return { host: e.host, port: e.port, database, tls: { rootCert: PRIMARY_CA_FILE } };
}

/** The CA Secret as a volume: only its one key, as ca.crt. */
export function caVolume(e: PrimaryEndpoint): V1Volume {
  return { name: PRIMARY_CA_VOLUME, secret: { secretName: e.caSecret.name, items: [{ key: e.caSecret.key, path: 'ca.crt' }], defaultMode: 0o444 } };
}

export const caMount: V1VolumeMount = { name: PRIMARY_CA_VOLUME, mountPath: PRIMARY_CA_DIR, readOnly: true };

/**
 * The CA mounted into the named containers (the bootstrap init container and postgres, whose
 * primary_conninfo names the file) of a standby's pod template; other containers are left alone.
 */
export function withPrimaryCa(template: V1PodTemplateSpec, e: PrimaryEndpoint, containers: readonly string[]): V1PodTemplateSpec {
  const spec = template.spec!;
  const mountIn = <C extends { name: string; volumeMounts?: V1VolumeMount[] }>(c: C): C =>
    containers.includes(c.name) ? { ...c, volumeMounts: [...(c.volumeMounts ?? []).filter((m) => m.name !== PRIMARY_CA_VOLUME), caMount] } : c;
  return {
    ...template,
    spec: {
      ...spec,
      volumes: [...(spec.volumes ?? []).filter((v) => v.name !== PRIMARY_CA_VOLUME), caVolume(e)],
      containers: spec.containers.map(mountIn),
      ...(spec.initContainers ? { initContainers: spec.initContainers.map(mountIn) } : {}),
    },
  };
}

/**
 * The `pg` client's TLS options equal to sslmode=verify-full: the chain must lead to this CA and
 * the certificate must name the host (node's checkServerIdentity, against `host` for an address).
 */
export function verifyFullTls(ca: string, host: string): { ca: string; rejectUnauthorized: true; servername?: string; host?: string } {
  return isIP(host) ? { ca, rejectUnauthorized: true, host } : { ca, rejectUnauthorized: true, servername: host };
}

/** Reads and checks the CA Secret; a sentence naming the field when it cannot be used. */
export async function readEndpointCa(io: EngineIO, namespace: string, e: PrimaryEndpoint): Promise<{ ok: true; ca: string } | { ok: false; problem: string }> {
  const { name, key } = e.caSecret;
  let data: Record<string, string> | undefined;
  try {
    data = await io.secret(namespace, name);
  } catch (err) {
    return { ok: false, problem: `cannot read Secret ${name} (${CA_FIELD}): ${(err as Error).message}` };
  }
  if (!data) return { ok: false, problem: `Secret ${name} (${CA_FIELD}) does not exist in namespace ${namespace}; it must hold the CA certificate (PEM) that signs the primary's server certificate` };
  const pem = data[key];
  if (!pem) return { ok: false, problem: `Secret ${name} (${CA_FIELD}) has no key "${key}" (or it is empty); set ${CA_FIELD}.key to the key holding the CA certificate (PEM)` };
  const problem = caProblem(pem);
  return problem ? { ok: false, problem: `Secret ${name} key "${key}" (${CA_FIELD}): ${problem}` } : { ok: true, ca: pem };
}

/** Why a PEM text is not a usable CA certificate, if so. Pure. */
export function caProblem(pem: string): string | undefined {
  if (!/-----BEGIN CERTIFICATE-----/.test(pem)) return 'is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)';
  try {
    const cert = new X509Certificate(pem);
    if (!cert.ca) return `the certificate (${cert.subject.replace(/\n/g, ', ')}) is not a CA certificate (basicConstraints CA:FALSE); give the CA that signs the primary's certificate`;
  } catch (err) {
    return `is not a readable certificate: ${(err as Error).message}`;
  }
  return undefined;
}

/** node:tls codes of a certificate that does not verify (the chain or the name). */
const VERIFY_CODES = /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_SIGNATURE_FAILURE|CERT_(NOT_YET_VALID|HAS_EXPIRED|UNTRUSTED|REJECTED)|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_.*)$/;

/**
 * The sentence for a TLS failure on the endpoint (naming the field to fix), or undefined when the
 * error is not about TLS. Pure.
 */
export function describeTlsError(err: PgErrorLike, e: PrimaryEndpoint): string | undefined {
  const message = (err.message ?? '').trim();
  const where = `${e.host}:${e.port} (${ENDPOINT_FIELD})`;
  if (/does not support SSL/i.test(message)) {
    return `the primary at ${where} does not offer TLS, and every connection across sites requires it (sslmode=verify-full): set ssl = on with a server certificate naming ${e.host} on the primary`;
  }
  if (err.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `the primary's certificate at ${where} does not name ${e.host}: ${message}; the certificate must name ${ENDPOINT_FIELD}.host (sslmode=verify-full)`;
  }
  if ((err.code && VERIFY_CODES.test(err.code)) || /certificate|self.signed|ssl/i.test(message)) {
    return `the primary's certificate at ${where} does not verify against the CA in ${CA_FIELD} (${e.caSecret.name}, key ${e.caSecret.key}): ${message || err.code}`;
  }
  return undefined;
}
