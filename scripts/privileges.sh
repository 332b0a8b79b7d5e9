# Sourced by the ensure-*.sh scripts: how this user may install Debian packages.
# Sets SUDO ("" as root, "sudo -n" with password-less sudo); otherwise prints what is missing
# and the command an administrator should run, and exits 1.
#   may_install "what is missing" "apt-get install -y …"
may_install() {
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "$1 and this user may not install packages." >&2
    echo "Ask an administrator to run: $2" >&2
    exit 1
  fi
}
