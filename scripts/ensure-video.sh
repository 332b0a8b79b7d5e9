#!/usr/bin/env bash
# Make sure live video's parts are present: Debian's Janus gateway (its streaming plugin serves the cameras to
# browsers over WebRTC), its page library janus.js with the adapter it needs, and ffmpeg (the simulated cameras'
# encoder). Without them the dashboard still runs; its tiles say "video is not enabled".
set -euo pipefail

present() {
  command -v janus >/dev/null 2>&1 && command -v ffmpeg >/dev/null 2>&1 &&
    [ -f /usr/share/javascript/janus-gateway/janus.js ] && [ -f /usr/share/javascript/webrtc-adapter/adapter.js ]
}

if present; then
  exit 0
fi

PACKAGES="janus libjs-janus-gateway libjs-webrtc-adapter ffmpeg"
# shellcheck source=scripts/privileges.sh
. "$(dirname "$0")/privileges.sh"
may_install "Janus or ffmpeg is missing" "apt-get install -y --no-install-recommends $PACKAGES"

echo "Installing Debian's Janus gateway and ffmpeg (live video)..."
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
present
