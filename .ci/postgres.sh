#!/usr/bin/env bash
# Install and start PostgreSQL 15 (Debian) and create the role and database the store tests use.
# Idempotent: on a reused machine it finds the server installed/running and the role/database present.
# Prints the test URL on stdout (everything else goes to stderr).
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null || [ ! -d /usr/lib/postgresql/15 ]; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
if ! pg_lsclusters -h | grep -q '^15 *main'; then
  pg_createcluster 15 main >&2
fi
if ! pg_lsclusters -h | grep -q '^15 *main .* online'; then
  pg_ctlcluster 15 main start >&2
fi
for _ in $(seq 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 1
done
as_postgres() { runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ -z "$(as_postgres -c "SELECT 1 FROM pg_roles WHERE rolname = 'genrec_test'")" ]; then
  as_postgres -c "CREATE ROLE genrec_test LOGIN PASSWORD 'genrec_test'" >&2
fi
if [ -z "$(as_postgres -c "SELECT 1 FROM pg_database WHERE datname = 'genrec_test'")" ]; then
  as_postgres -c "CREATE DATABASE genrec_test OWNER genrec_test" >&2
fi
echo "postgresql+psycopg://genrec_test:genrec_test@127.0.0.1:5432/genrec_test"
