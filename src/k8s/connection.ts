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
  return connectionFromKubeconfig(readFileSync(path, 'utf8'), { origin: path, path });
}

export interface KubeconfigSource {
  /** Where the text came from, for messages (a path, or "Secret ns/name key k"). */
  origin: string;
  /** The kubeconfig's file, if it is one: relative paths are resolved against its folder. */
  path?: string;
  /**
   * The text comes from someone other than the operator's own administrator (a Secret a user
   * wrote): only what is embedded in it is used. Exec plugins and auth providers would run a
   * program of the author's choosing, and file paths would read the operator's own files (its
   * service account token, sent to a server of the author's choosing): both are refused.
   */
  untrusted?: boolean;
}

/** A Connection from a kubeconfig's text. */
export async function connectionFromKubeconfig(text: string, src: KubeconfigSource): Promise<Connection> {
  const where = src.origin;
  let doc: Kubeconfig;
  try {
    doc = (parse(text) ?? {}) as Kubeconfig;
  } catch (err) {
    throw new Error(`${where}: not a kubeconfig (YAML): ${(err as Error).message}`, { cause: err });
  }
  if (typeof doc !== 'object') throw new Error(`${where}: not a kubeconfig`);
  const ctxName = doc['current-context'];
  const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`${where}: no current context ("${ctxName ?? ''}")`);
  const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster?.server) throw new Error(`${where}: context ${ctxName ?? ''} names cluster "${ctx.cluster}", which has no server`);
  const user = doc.users?.find((u) => u.name === ctx.user)?.user ?? {};
  if (src.untrusted) {
    const refused = [
      user.exec ? 'users[].user.exec (it would run a program)' : '',
      user['auth-provider'] ? 'users[].user.auth-provider' : '',
      user.tokenFile ? 'users[].user.tokenFile (a file path)' : '',
      user['client-certificate'] || user['client-key'] ? 'users[].user.client-certificate/client-key (file paths: use client-certificate-data/client-key-data)' : '',
      cluster['certificate-authority'] ? 'clusters[].cluster.certificate-authority (a file path: use certificate-authority-data)' : '',
    ].filter(Boolean);
    if (refused.length) throw new Error(`${where}: only embedded credentials are allowed here, not ${refused.join(', ')}`);
    if (!/^https:\/\//.test(cluster.server)) throw new Error(`${where}: the server must be an https:// URL, not "${cluster.server}"`);
  }
  if (user.exec || user['auth-provider']) {
    if (!src.path) throw new Error(`${where}: exec plugins and auth providers need a kubeconfig file`);
    return viaClientNode(src.path, ctx.namespace);
  }
  const base = src.path ? dirname(src.path) : '/';
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
