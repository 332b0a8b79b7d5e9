#!/usr/bin/env bash
# Make sure Node.js (18 or newer, for `node --test`) and npm are present for the page scripts'
# lint and tests (package.json). Installs Debian's nodejs and npm with apt when we are root (or
# have password-less sudo); otherwise stops with a clear message. The npm packages themselves
# come from package-lock.json (`npm ci`, run by the Makefile).
set -euo pipefail

NODE_MAJOR_MIN=18

node_ok() {
  command -v node >/dev/null 2>&1 &&
    node -e "process.exit(Number(process.versions.node.split('.')[0]) >= $NODE_MAJOR_MIN ? 0 : 1)" 2>/dev/null
}

if node_ok && command -v npm >/dev/null 2>&1; then
  exit 0
fi

# shellcheck source=scripts/privileges.sh
. "$(dirname "$0")/privileges.sh"
may_install "Node.js $NODE_MAJOR_MIN+ or npm is missing" "apt-get install -y nodejs npm"

echo "Installing Debian's nodejs and npm (needed by the page scripts' lint and tests)..."
$SUDO apt-get update -qq
# Only what is missing: a node from elsewhere (that already has its own npm) is left alone.
PACKAGES=()
node_ok || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${PACKAGES[@]}" >/dev/null

if ! node_ok; then
  echo "Node.js $NODE_MAJOR_MIN or newer is needed; this system's is $(node --version 2>/dev/null || echo missing)." >&2
  exit 1
fi
command -v npm >/dev/null
