#!/usr/bin/env bash
# Make sure Debian's chromium is present for the browser tests and benchmarks.
# Installs it with apt when we are root (or have password-less sudo); otherwise
# stops with a clear message. Playwright drives it; no browser is downloaded.
set -euo pipefail

# A Chinese font too: without one the zh-CN pages (and their screenshots) show empty boxes.
has_cjk_font() { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null)" ]; }

if command -v chromium >/dev/null 2>&1 && has_cjk_font; then
  exit 0
fi

# shellcheck source=scripts/privileges.sh
. "$(dirname "$0")/privileges.sh"
may_install "chromium or a Chinese font is missing" "apt-get install -y chromium fonts-wqy-microhei"

echo "Installing Debian's chromium and a Chinese font (needed by the browser tests)..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
command -v chromium >/dev/null
