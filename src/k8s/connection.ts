// Where the API server is and how to authenticate to it: in-cluster service
// account credentials, or a kubeconfig with a token or client certificate.
//
// Why not @kubernetes/client-node's KubeConfig for everything: importing it
// loads every generated API model (about 90 MB of resident memory, measured),
// more than the operator's caches for a thousand sites. The common cases are
// read here; kubeconfigs that need client-node's machinery (exec plugins, auth
// providers) load it on demand, and only then pay for it.
import { readFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { Agent, type Dispatcher } from 'undici';
import { parse } from 'yaml';

export interface Connection {
  server: string;
  /** The namespace of the kubeconfig context (or the pod's own, in-cluster). */
  namespace: string;
  /** Headers for one request; a token read from a file is re-read as it rotates. */
  headers(url: string): Promise<[string, string][]>;
  dispatcher: Dispatcher;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const TOKEN_REREAD_MS = 60_000;

interface NamedEntry<T> {
  name: string;
  cluster?: T;
  user?: T;
  context?: T;
}
interface KubeconfigCluster {
  server: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
}
interface KubeconfigUser {
  token?: string;
  tokenFile?: string;
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  username?: string;
  password?: string;
  exec?: unknown;
  'auth-provider'?: unknown;
  as?: string;
  'as-groups'?: string[];
}
interface KubeconfigContext {
  cluster: string;
  user: string;
  namespace?: string;
}
interface Kubeconfig {
  'current-context'?: string;
  clusters?: NamedEntry<KubeconfigCluster>[];
  users?: NamedEntry<KubeconfigUser>[];
  contexts?: NamedEntry<KubeconfigContext>[];
}

/** A token file, re-read now and then (projected service account tokens rotate). */
function tokenFrom(file: string): () => string {
  let token = '';
  let readAt = 0;
  return () => {
    if (Date.now() - readAt > TOKEN_REREAD_MS) {
      token = readFileSync(file, 'utf8').trim();
      readAt = Date.now();
    }
    return token;
  };
}

function inCluster(): Connection {
  const host = process.env.KUBERNETES_SERVICE_HOST ?? '';
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  const token = tokenFrom(join(SA_DIR, 'token'));
  const namespace = existsSync(join(SA_DIR, 'namespace')) ? readFileSync(join(SA_DIR, 'namespace'), 'utf8').trim() : 'default';
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    namespace,
    headers: () => Promise.resolve([['Authorization', `Bearer ${token()}`]]),
    dispatcher: new Agent({ connect: { ca: readFileSync(join(SA_DIR, 'ca.crt')) } }),
  };
}

function fileOrData(base: string, file: string | undefined, data: string | undefined): Buffer | undefined {
  if (data) return Buffer.from(data, 'base64');
  if (file) return readFileSync(isAbsolute(file) ? file : join(base, file));
  return undefined;
}

async function fromKubeconfig(path: string): Promise<Connection> {
  const doc = parse(readFileSync(path, 'utf8')) as Kubeconfig;
  const ctxName = doc['current-context'];
  const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`${path}: no current context ("${ctxName ?? ''}")`);
  const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster?.server) throw new Error(`${path}: context ${ctxName ?? ''} names cluster "${ctx.cluster}", which has no server`);
  const user = doc.users?.find((u) => u.name === ctx.user)?.user ?? {};
  if (user.exec || user['auth-provider']) return viaClientNode(path, ctx.namespace);
  const base = dirname(path);
  const impersonation: [string, string][] = [
    ...(user.as ? ([['Impersonate-User', user.as]] as [string, string][]) : []),
    ...(user['as-groups'] ?? []).map((g): [string, string] => ['Impersonate-Group', g]),
  ];
  let auth: () => [string, string][] = () => [];
  if (user.token) {
    const token = user.token;
    auth = () => [['Authorization', `Bearer ${token}`]];
  } else if (user.tokenFile) {
    const token = tokenFrom(isAbsolute(user.tokenFile) ? user.tokenFile : join(base, user.tokenFile));
    auth = () => [['Authorization', `Bearer ${token()}`]];
  } else if (user.username !== undefined) {
    const basic = Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64');
    auth = () => [['Authorization', `Basic ${basic}`]];
  }
  const ca = fileOrData(base, cluster['certificate-authority'], cluster['certificate-authority-data']);
  const cert = fileOrData(base, user['client-certificate'], user['client-certificate-data']);
  const key = fileOrData(base, user['client-key'], user['client-key-data']);
  return {
    server: cluster.server.replace(/\/$/, ''),
    namespace: ctx.namespace ?? 'default',
    headers: () => Promise.resolve([...auth(), ...impersonation]),
    dispatcher: new Agent({
      connect: {
        ...(ca ? { ca } : {}),
        ...(cert ? { cert } : {}),
        ...(key ? { key } : {}),
        ...(cluster['insecure-skip-tls-verify'] ? { rejectUnauthorized: false } : {}),
        ...(cluster['tls-server-name'] ? { servername: cluster['tls-server-name'] } : {}),
      },
    }),
  };
}

/** Exec plugins and auth providers: client-node knows them all; load it only for these. */
async function viaClientNode(path: string, namespace: string | undefined): Promise<Connection> {
  const { KubeConfig, RequestContext, HttpMethod } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  const server = kc.getCurrentCluster()?.server.replace(/\/$/, '') ?? '';
  let dispatcher: Dispatcher | undefined;
  const headers = async (url: string): Promise<[string, string][]> => {
    const ctx = new RequestContext(url, HttpMethod.GET);
    await kc.applySecurityAuthentication(ctx);
    dispatcher ??= ctx.getDispatcher();
    return Object.entries(ctx.getHeaders());
  };
  // The dispatcher carries the TLS settings; one call gives it before the first real request.
  await headers(`${server}/version`);
  return { server, namespace: namespace ?? 'default', headers, dispatcher: dispatcher ?? new Agent() };
}

/**
 * The connection to use: the given kubeconfig, else $KUBECONFIG (its first
 * file), else the pod's service account when running in a cluster, else
 * ~/.kube/config.
 */
export async function loadConnection(kubeconfig?: string): Promise<Connection> {
  if (kubeconfig) return fromKubeconfig(kubeconfig);
  const env = process.env.KUBECONFIG?.split(':').find((p) => p !== '' && existsSync(p));
  if (env) return fromKubeconfig(env);
  if (process.env.KUBERNETES_SERVICE_HOST && existsSync(join(SA_DIR, 'token'))) return inCluster();
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return fromKubeconfig(home);
  throw new Error('no Kubernetes credentials: set KUBECONFIG, pass --kubeconfig, or run in a pod with a service account');
}
