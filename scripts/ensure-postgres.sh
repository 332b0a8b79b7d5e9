#!/usr/bin/env bash
# Start a local PostgreSQL for the record-keeping tests (CI runs them on SQLite and
# PostgreSQL). Installs Debian's postgresql when missing and we may; creates the
# role and database; prints the URL to use as TEST_DATABASE_URL.
set -euo pipefail

DB=pingan_test
ROLE=pingan

# shellcheck source=scripts/privileges.sh
. "$(dirname "$0")/privileges.sh"
may_install "PostgreSQL tests need postgresql installed and started" "apt-get install -y postgresql"

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "Installing Debian's postgresql..." >&2
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h 2>/dev/null | grep -q "^$version main"; then
  $SUDO pg_createcluster "$version" main >/dev/null
fi
$SUDO pg_ctlcluster "$version" main start >&2 2>/dev/null || true
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 2>/dev/null && break
  sleep 0.2  # the server is starting; pg_isready has no blocking mode
done

psql_admin() { $SUDO su postgres -c "psql -qtAX -c \"$1\""; }
psql_admin "SELECT 1 FROM pg_roles WHERE rolname='$ROLE'" | grep -q 1 \
  || psql_admin "CREATE ROLE $ROLE LOGIN PASSWORD '$ROLE'" >/dev/null
psql_admin "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1 \
  || psql_admin "CREATE DATABASE $DB OWNER $ROLE" >/dev/null
echo "postgresql://$ROLE:$ROLE@127.0.0.1:5432/$DB"
