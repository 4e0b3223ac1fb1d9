// What the engine's shell scripts share: the environment they read, where
// they report, the slot naming, and the shell lines several scripts begin or
// end with. The scripts are built from the argv arrays in commands.ts and the
// SQL in sql.ts. Pure: the pod templates embed them, and test/postgres runs
// the very same text against real servers (with the addresses pointed at
// loopback). POSIX sh, so they run under dash and busybox alike.

/** Environment variables the scripts read; the pod templates fill them from Secrets and the downward API. */
export const ENV = {
  /** Login of the role the script connects as (libpq reads PGUSER/PGPASSWORD itself). */
  user: 'PGUSER',
  password: 'PGPASSWORD',
  /** The superuser credentials, for the standby bootstrap's synchronous_standby_names on the primary. */
  superuser: 'PG_SUPERUSER',
  superuserPassword: 'PG_SUPERUSER_PASSWORD',
  /** The pod's name: a StatefulSet replica's ordinal is its suffix. */
  podName: 'POD_NAME',
} as const;

/** The first lines of every script that connects to a server. */
export const HEADER = ['set -eu', '# Fail fast on an unreachable server; the Job or kubelet retries with backoff.', 'export PGCONNECT_TIMEOUT=10'];

/** Lines appended to postgresql.auto.conf of every copy, so that no copy ever waits for the old primary's standbys. */
export function appendConfig(lines: readonly string[]): string {
  return ['cat >> "$data/postgresql.auto.conf" <<\'EOF\'', '# Added by standby-operator:', ...lines, 'EOF'].join('\n');
}

export const NO_SYNCHRONOUS_STANDBYS = [
  "# a promoted copy must not wait for standbys of the old primary (RPO settings are the primary's)",
  "synchronous_standby_names = ''",
];

/**
 * Empties the data directory (a partial earlier attempt) and gives it the mode postgres requires.
 * `-exec rm -rf {} +`, not `-delete`: Debian's busybox find has no -delete (found on real pods).
 */
export const EMPTY_DATA = ['mkdir -p "$data"', 'chmod 700 "$data"', 'find "$data" -mindepth 1 -maxdepth 1 -exec rm -rf {} +'];

/** The slot (and application_name) of replica `ordinal`. */
export function slotName(prefix: string, ordinal: number): string {
  return `${prefix}_${ordinal}`;
}

/** Where Kubernetes takes a container's termination message from: the scripts write their report there. */
export const TERMINATION_LOG = '/dev/termination-log';
