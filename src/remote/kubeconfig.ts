// The kubeconfig an operator in a standby's cluster uses to reach a primary's cluster: the
// server, its CA and the token of the remote-access ServiceAccount (the chart's remoteAccess),
// all embedded, since a kubeconfig read from a Secret may name no files (k8s/connection.ts). Pure.
import { stringify } from 'yaml';

export interface RemoteKubeconfigInput {
  /** The primary's API server as the standby's site reaches it (https://...). */
  server: string;
  /** PEM of the CA that signs the server's certificate. */
  caPem: string;
  token: string;
  /** The primary's namespace (the context's default). */
  namespace: string;
  /** A name for the cluster, user and context entries. */
  name?: string;
}

export function remoteKubeconfig(i: RemoteKubeconfigInput): string {
  if (!/^https:\/\//.test(i.server)) throw new Error(`the server must be an https:// URL, not "${i.server}"`);
  if (!i.token.trim()) throw new Error('the ServiceAccount token is empty: has the token controller filled its Secret yet?');
  if (!/-----BEGIN CERTIFICATE-----/.test(i.caPem)) throw new Error('the CA is not a PEM certificate');
  const name = i.name ?? 'primary';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': name,
    clusters: [{ name, cluster: { server: i.server, 'certificate-authority-data': Buffer.from(i.caPem).toString('base64') } }],
    users: [{ name, user: { token: i.token.trim() } }],
    contexts: [{ name, context: { cluster: name, user: name, namespace: i.namespace } }],
  });
}
