#!/bin/sh
# Entrypoint of the test PostgreSQL image (test/cluster/images): on an empty PGDATA, initdb
# with superuser `postgres` (password POSTGRES_PASSWORD), listening on every address with
# scram for normal and replication connections, and, if POSTGRES_REPLICATION_USER is set, a
# LOGIN REPLICATION role with pg_monitor. A PGDATA that holds a cluster already (a restart, a
# standby bootstrapped by the operator's init container, a restored dump) is started as it is.
set -eu
: "${PGDATA:?PGDATA must be set}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set to initialise an empty data directory}"
  mkdir -p "$PGDATA"
  chmod 700 "$PGDATA"
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb --pgdata "$PGDATA" --username postgres --pwfile "$pwfile" --auth-local=trust --auth-host=scram-sha-256 --no-instructions
  rm -f "$pwfile"
  cat >> "$PGDATA/postgresql.conf" <<'CONF'
# test image defaults
listen_addresses = '*'
unix_socket_directories = '/tmp'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_receiver_status_interval = 1s
jit = off
CONF
  cat > "$PGDATA/pg_hba.conf" <<'HBA'
local all all trust
host all all 0.0.0.0/0 scram-sha-256
host replication all 0.0.0.0/0 scram-sha-256
HBA
  if [ -n "${POSTGRES_REPLICATION_USER:-}" ]; then
    pg_ctl --pgdata "$PGDATA" --wait --options "-c listen_addresses='' -k /tmp" start
    psql --no-psqlrc --host /tmp --username postgres --dbname postgres --set ON_ERROR_STOP=1 \
      --set u="$POSTGRES_REPLICATION_USER" --set p="${POSTGRES_REPLICATION_PASSWORD:?POSTGRES_REPLICATION_PASSWORD must be set}" <<'SQL'
CREATE ROLE :"u" LOGIN REPLICATION PASSWORD :'p';
GRANT pg_monitor TO :"u";
SQL
    pg_ctl --pgdata "$PGDATA" --mode=fast --wait stop
  fi
fi
exec postgres -D "$PGDATA" "$@"
