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

# wrk, the HTTP load generator the NestJS original measures itself with (scripts/bench-http).
ensure_wrk() {
  command -v wrk >/dev/null || apt_install wrk
}

# Node and npm, for the BullMQ interop tests.
ensure_node() {
  command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
}

# The npm packages of a test folder, from its lockfile: `npm ci` when they are missing (judged
# by one package, $2) or older than the lockfile.
ensure_npm_packages() {
  ensure_node
  local dir=$1 marker=$2
  if [ ! -f "$dir/node_modules/$marker/package.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# The pinned bullmq npm package for the interop tests.
ensure_interop_packages() {
  ensure_npm_packages tests/interop bullmq
}

# The exact wasm-bindgen version of Cargo.lock (the CLI must match it).
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

# Everything `cargo leptos build` needs: the wasm target, cargo-leptos, the matching
# wasm-bindgen CLI, and wasm-opt (npm's binaryen; Debian's is too old for current rustc).
ensure_leptos_toolchain() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  # Both tools are built unoptimised (opt-level 0, no debug info, no LTO) into one shared
  # build directory: on 2 cores that halves their install (cargo-leptos 6.9 min instead of
  # 13.4, wasm-bindgen 1.2 instead of 2.3), and costs a build about a second: their own work
  # (splitting, wasm-bindgen) is small next to wasm-opt's and rustc's.
  local tool_build
  tool_build=$(mktemp -d)
  local fast=(CARGO_TARGET_DIR="$tool_build" CARGO_PROFILE_RELEASE_OPT_LEVEL=0
    CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_LTO=false
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256)
  if ! cargo leptos --version 2>/dev/null | grep -q '0\.3\.10'; then
    say "installing cargo-leptos 0.3.10 (long build, once)"
    env "${fast[@]}" cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads
  fi
  local wbg
  wbg=$(wasm_bindgen_version)
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $wbg\$"; then
    say "installing wasm-bindgen-cli $wbg (matches Cargo.lock)"
    env "${fast[@]}" cargo install wasm-bindgen-cli --version "$wbg" --force
  fi
  rm -rf "$tool_build"
  ensure_node
  local tools="$HOME/.local/share/sentinel-tools"
  if [ ! -x "$tools/node_modules/.bin/wasm-opt" ]; then
    say "installing wasm-opt (npm binaryen) into $tools"
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --loglevel=error binaryen@132
  fi
  # esbuild minifies the home page's own JS (scripts/build-home; cargo-leptos minifies its own).
  if [ ! -x "$tools/node_modules/.bin/esbuild" ]; then
    say "installing esbuild (npm) into $tools"
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --loglevel=error esbuild@0.25.12
  fi
  export PATH="$tools/node_modules/.bin:$PATH"
}

# schemathesis (PyPI) for the API fuzz run, in a virtual environment of its own.
SCHEMATHESIS_VERSION=4.32.5
PROMETHEUS_CLIENT_VERSION=0.26.0
ensure_schemathesis() {
  local venv="$HOME/.local/share/sentinel-tools/venv"
  if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3 python3-venv
    say "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  fi
  # The metrics test parses /metrics with the Prometheus project's own parser.
  if ! "$venv/bin/python" -c 'import prometheus_client' 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "prometheus-client==$PROMETHEUS_CLIENT_VERSION"
  fi
  export SCHEMATHESIS_BIN="$venv/bin/schemathesis"
}

# A Docker engine: the machine's if one answers, else one of our own (installed when missing)
# with its data under $1, stopped again by stop_docker_engine. Exports DOCKER_HOST for ours.
STARTED_DOCKERD=""
ensure_docker_engine() {
  local dir=$1
  docker info >/dev/null 2>&1 && return 0
  command -v dockerd >/dev/null || apt_install docker.io
  command -v docker >/dev/null || apt_install docker.io
  say "starting a Docker engine of our own"
  mkdir -p "$dir/docker"
  dockerd --data-root "$dir/docker/data" --exec-root "$dir/docker/exec" \
    -H "unix://$dir/docker/docker.sock" --pidfile "$dir/docker/dockerd.pid" \
    >"$dir/docker/dockerd.log" 2>&1 &
  STARTED_DOCKERD=$!
  export DOCKER_HOST="unix://$dir/docker/docker.sock"
  local i
  for i in $(seq 1 240); do
    docker info >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  cat "$dir/docker/dockerd.log" >&2
  return 1
}

stop_docker_engine() {
  if [ -n "$STARTED_DOCKERD" ]; then
    kill "$STARTED_DOCKERD" 2>/dev/null || true
    wait "$STARTED_DOCKERD" 2>/dev/null || true
    STARTED_DOCKERD=""
  fi
}

# The official base images the Dockerfile and compose file name, or local stand-ins built from
# Debian's packages where they cannot be pulled (tagged with the official names). Appends the
# stand-ins it built to the array MADE_IMAGES.
MADE_IMAGES=()
ensure_base_images() {
  local dir=$1
  if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1 && ! docker pull -q debian:bookworm-slim >/dev/null 2>&1; then
    command -v mmdebstrap >/dev/null || apt_install mmdebstrap
    say "building a debian:bookworm-slim stand-in (mmdebstrap)"
    mmdebstrap --quiet --variant=minbase --include=ca-certificates \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
      bookworm "$dir/rootfs.tar" http://deb.debian.org/debian
    docker import "$dir/rootfs.tar" debian:bookworm-slim >/dev/null
    rm -f "$dir/rootfs.tar"
    MADE_IMAGES+=(debian:bookworm-slim)
  fi
  if ! docker image inspect redis:7 >/dev/null 2>&1 && ! docker pull -q redis:7 >/dev/null 2>&1; then
    say "building a redis:7 stand-in (Debian's redis-server)"
    docker build --quiet -t redis:7 -f tests/containers/redis.Dockerfile tests/containers >/dev/null
    MADE_IMAGES+=(redis:7)
  fi
}

# Debian's Chromium for the browser test (playwright-core drives it; its own download fails here).
ensure_chromium() {
  command -v chromium >/dev/null || apt_install chromium
}

# playwright-core, ioredis and bullmq for the browser test.
ensure_e2e_packages() {
  ensure_npm_packages tests/e2e playwright-core
}

# The crates we patch (see patches/README.md), unpacked and patched into .patched/.
ensure_patched_crates() {
  local patch name dest want have crate tmp
  for patch in patches/*.patch; do
    name=$(basename "$patch" .patch)            # e.g. bullmq-official-1.4.4
    dest=".patched/$name"
    want=$(sha256sum "$patch" | cut -d' ' -f1)
    if [ -f "$dest/.sentinel-patch" ] && [ "$(cat "$dest/.sentinel-patch")" = "$want" ]; then
      continue
    fi
    command -v patch >/dev/null || apt_install patch
    crate=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$name.crate" 2>/dev/null | head -n1 || true)
    if [ -z "$crate" ]; then
      # Let cargo download it (and check it against the registry's checksum) in a throwaway
      # project, so no download code of ours is involved.
      tmp=$(mktemp -d)
      mkdir -p "$tmp/src" && : > "$tmp/src/lib.rs"
      printf '[package]\nname = "sentinel-fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n%s = "=%s"\n' \
        "${name%-*}" "${name##*-}" > "$tmp/Cargo.toml"
      say "fetching $name from crates.io"
      cargo fetch --quiet --manifest-path "$tmp/Cargo.toml"
      rm -rf "$tmp"
      crate=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$name.crate" | head -n1)
    fi
    have=$(sha256sum "$crate" | cut -d' ' -f1)
    if ! grep -q "^crate-sha256: $have\$" "$patch"; then
      say "$crate has SHA-256 $have, not the one $patch names"
      return 1
    fi
    say "patching $name"
    rm -rf "$dest" && mkdir -p .patched
    tar -xzf "$crate" -C .patched
    patch --quiet --forward -p1 -d "$dest" < "$patch"
    echo "$want" > "$dest/.sentinel-patch"
  done
}

# The release server and the site (target/release/server + target/site).
build_release() {
  ensure_patched_crates
  ensure_leptos_toolchain
  # --split with the feature `split`: the whole app (the router) and the dashboard's routes are
  # lazily loaded WASM modules, fetched only by the pages that use them (the home page runs on
  # the first module alone). The feature must be on for both the server and the browser.
  say "cargo leptos build --release --split --features split"
  cargo leptos build --release --split --features split
  say "the home page's own bundle (scripts/build-home)"
  scripts/build-home
}
