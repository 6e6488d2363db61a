# Shared helpers of Sentinel's scripts: install what is missing, skip what is there.
# Sourced, not run. Assumes Debian/Ubuntu with the Rust toolchain; uses sudo when not root.

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
APT_UPDATED=""

say() { printf '==> %s\n' "$*" >&2; }

apt_install() {
  if [ -z "$APT_UPDATED" ]; then
    say "apt-get update"
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# redis-server and redis-cli (the tests start their own servers; the run command may too).
ensure_redis() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || apt_install redis-server
}

# Node and npm, for the BullMQ interop tests.
ensure_node() {
  command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
}

# The pinned bullmq npm package for the interop tests, from the lockfile.
ensure_interop_packages() {
  ensure_node
  local dir=tests/interop
  if [ ! -f "$dir/node_modules/bullmq/package.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
