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
import { parse, stringify } from 'yaml';

/**
 * HTTP/1.1 only. undici 8 speaks HTTP/2 by default (ALPN), and its HTTP/2 client can destroy an
 * idle session while a stream is still attached, which then emits 'error' with no listener and
 * kills the process ("InformationalError: socket idle timeout" from client-h2.js, seen when a
 * request to a cut-off witness was given up). HTTP/1.1 connections are pooled per origin.
 */
const HTTP1 = { allowH2: false } as const;

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
export interface Kubeconfig {
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
    dispatcher: new Agent({ ...HTTP1, connect: { ca: readFileSync(join(SA_DIR, 'ca.crt')) } }),
  };
}

function fileOrData(file: string | undefined, data: string | undefined): Buffer | undefined {
  if (data) return Buffer.from(data, 'base64');
  if (file) return readFileSync(file);
  return undefined;
}

/** File paths in a kubeconfig are relative to that file: make them absolute before merging. */
function absolutePaths(doc: Kubeconfig, base: string): Kubeconfig {
  const abs = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : join(base, p));
  return {
    ...doc,
    clusters: doc.clusters?.map((c) => (c.cluster ? { ...c, cluster: { ...c.cluster, 'certificate-authority': abs(c.cluster['certificate-authority']) } } : c)),
    users: doc.users?.map((u) =>
      u.user
        ? {
            ...u,
            user: { ...u.user, tokenFile: abs(u.user.tokenFile), 'client-certificate': abs(u.user['client-certificate']), 'client-key': abs(u.user['client-key']) },
          }
        : u,
    ),
  };
}

/**
 * Several kubeconfig files merged as kubectl merges $KUBECONFIG: the first file that sets
 * current-context wins, and the first file that names a cluster, user or context wins for it.
 */
export function mergeKubeconfigs(files: readonly { path: string; text: string }[]): Kubeconfig {
  const merged: Kubeconfig = { clusters: [], users: [], contexts: [] };
  const add = <T>(into: NamedEntry<T>[], from: NamedEntry<T>[] | undefined) => {
    for (const e of from ?? []) if (!into.some((x) => x.name === e.name)) into.push(e);
  };
  for (const f of files) {
    const doc = absolutePaths((parse(f.text) as Kubeconfig | null) ?? {}, dirname(f.path));
    merged['current-context'] ??= doc['current-context'] || undefined;
    add(merged.clusters!, doc.clusters);
    add(merged.users!, doc.users);
    add(merged.contexts!, doc.contexts);
  }
  return merged;
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

/** A Connection from a kubeconfig's text (its current context). */
export async function connectionFromKubeconfig(text: string, src: KubeconfigSource): Promise<Connection> {
  const where = src.origin;
  let doc: unknown;
  try {
    doc = parse(text) ?? {};
  } catch (err) {
    throw new Error(`${where}: not a kubeconfig (YAML): ${(err as Error).message}`, { cause: err });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`${where}: not a kubeconfig (a YAML mapping with clusters, users and contexts)`);
  const kc = doc as Kubeconfig;
  return fromKubeconfig(src.path ? absolutePaths(kc, dirname(src.path)) : kc, where, undefined, src.untrusted ?? false);
}

/** What an untrusted kubeconfig may not use, each named by its field. */
function refusedInUntrusted(cluster: KubeconfigCluster, user: KubeconfigUser): string | undefined {
  const refused = [
    user.exec ? 'users[].user.exec (it would run a program)' : '',
    user['auth-provider'] ? 'users[].user.auth-provider' : '',
    user.tokenFile ? 'users[].user.tokenFile (a file path)' : '',
    user['client-certificate'] || user['client-key'] ? 'users[].user.client-certificate/client-key (file paths: use client-certificate-data/client-key-data)' : '',
    cluster['certificate-authority'] ? 'clusters[].cluster.certificate-authority (a file path: use certificate-authority-data)' : '',
  ].filter(Boolean);
  if (refused.length) return `only embedded credentials are allowed here, not ${refused.join(', ')}`;
  if (!/^https:\/\//.test(cluster.server)) return `clusters[].cluster.server must be an https:// URL, not "${cluster.server}"`;
  return undefined;
}

async function fromKubeconfig(doc: Kubeconfig, where: string, context: string | undefined, untrusted = false): Promise<Connection> {
  const ctxName = context ?? doc['current-context'];
  const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) {
    throw new Error(context !== undefined ? `${where}: context "${context}" not found` : `${where}: no current context ("${ctxName ?? ''}")`);
  }
  const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster?.server) throw new Error(`${where}: context ${ctxName ?? ''} names cluster "${ctx.cluster}", which has no server`);
  const user = doc.users?.find((u) => u.name === ctx.user)?.user ?? {};
  if (untrusted) {
    const refused = refusedInUntrusted(cluster, user);
    if (refused) throw new Error(`${where}: ${refused}`);
  }
  if (user.exec || user['auth-provider']) return viaClientNode(doc, ctxName!, ctx.namespace);
  const impersonation: [string, string][] = [
    ...(user.as ? ([['Impersonate-User', user.as]] as [string, string][]) : []),
    ...(user['as-groups'] ?? []).map((g): [string, string] => ['Impersonate-Group', g]),
  ];
  let auth: () => [string, string][] = () => [];
  if (user.token) {
    const token = user.token;
    auth = () => [['Authorization', `Bearer ${token}`]];
  } else if (user.tokenFile) {
    const token = tokenFrom(user.tokenFile);
    auth = () => [['Authorization', `Bearer ${token()}`]];
  } else if (user.username !== undefined) {
    const basic = Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64');
    auth = () => [['Authorization', `Basic ${basic}`]];
  }
  const ca = fileOrData(cluster['certificate-authority'], cluster['certificate-authority-data']);
  const cert = fileOrData(user['client-certificate'], user['client-certificate-data']);
  const key = fileOrData(user['client-key'], user['client-key-data']);
  return {
    server: cluster.server.replace(/\/$/, ''),
    namespace: ctx.namespace ?? 'default',
    headers: () => Promise.resolve([...auth(), ...impersonation]),
    dispatcher: new Agent({
      ...HTTP1,
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
async function viaClientNode(doc: Kubeconfig, context: string, namespace: string | undefined): Promise<Connection> {
  const { KubeConfig, RequestContext, HttpMethod } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromString(stringify({ apiVersion: 'v1', kind: 'Config', ...doc, 'current-context': context }));
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
  return { server, namespace: namespace ?? 'default', headers, dispatcher: dispatcher ?? new Agent(HTTP1) };
}

export interface ConnectionOptions {
  /** A kubeconfig context other than its current-context (kubectl's --context). */
  context?: string;
}

function fromFiles(paths: readonly string[], context: string | undefined): Promise<Connection> {
  const doc = mergeKubeconfigs(paths.map((path) => ({ path, text: readFileSync(path, 'utf8') })));
  return fromKubeconfig(doc, paths.join(':'), context);
}

/**
 * The connection to use, as kubectl finds it: the given kubeconfig file alone, else every file
 * of $KUBECONFIG merged, else the pod's service account when running in a cluster, else
 * ~/.kube/config.
 */
export async function loadConnection(kubeconfig?: string, opts: ConnectionOptions = {}): Promise<Connection> {
  if (kubeconfig) return fromFiles([kubeconfig], opts.context);
  const env = (process.env.KUBECONFIG ?? '').split(':').filter((p) => p !== '' && existsSync(p));
  if (env.length > 0) return fromFiles(env, opts.context);
  if (process.env.KUBERNETES_SERVICE_HOST && existsSync(join(SA_DIR, 'token'))) {
    if (opts.context !== undefined) throw new Error(`context "${opts.context}" not found: no kubeconfig (in-cluster credentials have no contexts)`);
    return inCluster();
  }
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return fromFiles([home], opts.context);
  throw new Error('no Kubernetes credentials: set KUBECONFIG, pass --kubeconfig, or run in a pod with a service account');
}
