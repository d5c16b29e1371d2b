#!/usr/bin/env bash
# Install and start the distribution's PostgreSQL (15 on Debian 12, 17 on Debian 13) and create the role and
# database the store tests use.
# Idempotent: on a reused machine it finds the server installed/running and the role/database present.
# Prints the test URL on stdout (everything else goes to stderr).
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
# The distribution's major version: 15 on Debian 12, 17 on Debian 13.
version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
if ! pg_lsclusters -h | grep -q "^$version *main"; then
  pg_createcluster "$version" main >&2
fi
if ! pg_lsclusters -h | grep -q "^$version *main .* online"; then
  pg_ctlcluster "$version" main start >&2
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')
for _ in $(seq 30); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 1
done
as_postgres() { runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ -z "$(as_postgres -c "SELECT 1 FROM pg_roles WHERE rolname = 'genrec_test'")" ]; then
  as_postgres -c "CREATE ROLE genrec_test LOGIN PASSWORD 'genrec_test'" >&2
fi
if [ -z "$(as_postgres -c "SELECT 1 FROM pg_database WHERE datname = 'genrec_test'")" ]; then
  as_postgres -c "CREATE DATABASE genrec_test OWNER genrec_test" >&2
fi
echo "postgresql+psycopg://genrec_test:genrec_test@127.0.0.1:$port/genrec_test"
