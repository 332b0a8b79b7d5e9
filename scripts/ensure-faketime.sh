#!/usr/bin/env bash
# Make sure Debian's faketime is present for `make test-ahead` (the suite with the calendar moved).
set -euo pipefail

if command -v faketime >/dev/null 2>&1; then
  exit 0
fi

# shellcheck source=scripts/privileges.sh
. "$(dirname "$0")/privileges.sh"
may_install "faketime is missing" "apt-get install -y faketime"

echo "Installing Debian's faketime (needed by make test-ahead)..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq faketime >/dev/null
command -v faketime >/dev/null
