#!/usr/bin/env bash
# The production topology's Debian packages and database (make prod-up, python -m prod).
#   scripts/ensure-prod.sh                          haproxy, redis-server and redis-tools, installed if missing
#   scripts/ensure-prod.sh database NAME [--fresh]  PostgreSQL started (scripts/ensure-postgres.sh), the database
#                                                   NAME made (--fresh: dropped first); prints its URL last
# Installs with apt when we are root (or have password-less sudo); otherwise stops with a clear message.
set -euo pipefail
here=$(dirname "$0")

if [ "${1:-}" = "database" ]; then
  name=${2:?usage: ensure-prod.sh database NAME [--fresh]}
  [[ $name =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "not a database name: $name" >&2; exit 2; }
  # The server and the role pingan (the same as the tests'); its URL names the tests' database.
  test_url=$(bash "$here/ensure-postgres.sh" | tail -n 1)
  # shellcheck source=scripts/privileges.sh
  . "$here/privileges.sh"
  may_install "the production database needs PostgreSQL's administrator" "su postgres -c 'createdb -O pingan $name'"
  psql_admin() { $SUDO su postgres -c "psql -qtAX -c \"$1\""; }
  if [ "${3:-}" = "--fresh" ]; then
    psql_admin "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null
  fi
  psql_admin "SELECT 1 FROM pg_database WHERE datname='$name'" | grep -q 1 \
    || psql_admin "CREATE DATABASE $name OWNER pingan" >/dev/null
  echo "${test_url%/*}/$name"
  exit 0
fi

missing=()
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
[ ${#missing[@]} -eq 0 ] && exit 0

# shellcheck source=scripts/privileges.sh
. "$here/privileges.sh"
may_install "the production topology needs ${missing[*]}" "apt-get install -y ${missing[*]}"

echo "Installing Debian's ${missing[*]} (the production topology)..." >&2
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
# Debian may start the packaged services at install; the topology runs its own instances on its own ports.
for unit in haproxy redis-server; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$unit" 2>/dev/null; then
    $SUDO systemctl stop "$unit" >/dev/null 2>&1 || true
    $SUDO systemctl disable "$unit" >/dev/null 2>&1 || true
  fi
done
command -v haproxy >/dev/null && command -v redis-server >/dev/null && command -v redis-cli >/dev/null
