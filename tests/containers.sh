#!/usr/bin/env bash
# The compose deployment on a real Docker engine: builds the runtime image from the host's
# release build, then checks that the web service becomes ready and a task runs on a worker
# container, that `--scale worker=3` spreads a burst over three workers, that stopping a worker
# mid-task hands the task to another one (completed exactly once), that a waiting task survives
# `down` + `up` with the volume kept, and that nothing runs as root. Cleans up everything it
# made: containers, networks, volumes, images, and the Docker engine if it started one.
#
# Where no image can be pulled (this project's machines), it builds local stand-ins for the
# official `debian:bookworm-slim` and `redis:7` images from Debian's packages (mmdebstrap) and
# tags them with the official names, so the Dockerfile and compose file are used as they are.
#
# Prints `containers: N passed, N failed`. Run by scripts/test; needs the release build.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

passed=0
failed=0
check() { # check "what" command...
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    say "ok: $what"
  else
    failed=$((failed + 1))
    say "FAILED: $what"
  fi
}
now_ms() { date +%s%3N; }
# until_ok SECONDS command...: polls every 0.25 s until the command succeeds.
until_ok() {
  local limit=$1
  shift
  local deadline=$(($(date +%s) + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.25
  done
}

work=$(mktemp -d)
project="sentinelct$$"
compose_file="$PWD/docker-compose.yml"
tag="sentinel-ct:$$"

cleanup() {
  if [ -n "${COMPOSE:-}" ]; then
    $COMPOSE down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  for image in "${MADE_IMAGES[@]}"; do docker rmi -f "$image" >/dev/null 2>&1 || true; done
  stop_docker_engine
  rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT

# --- an engine (the machine's, else one of our own) and the base images -----------------------
t_start=$(now_ms)
if ! ensure_docker_engine "$work"; then
  echo "containers: 0 passed, 1 failed"
  exit 1
fi
if docker compose version >/dev/null 2>&1; then
  COMPOSE_CMD=(docker compose)
else
  command -v docker-compose >/dev/null || apt_install docker-compose
  COMPOSE_CMD=(docker-compose)
fi
COMPOSE="${COMPOSE_CMD[*]} -p $project -f $compose_file"
export SENTINEL_IMAGE="$tag"
export SENTINEL_SESSION_SECRET="container-test-secret-of-at-least-32-chars"
export SENTINEL_ANONYMOUS_ROLE=submitter
export SENTINEL_PORT
SENTINEL_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 38401)
export SHUTDOWN_GRACE_MS=1000
export TASK_TICK_MS=500
base="http://127.0.0.1:$SENTINEL_PORT"
ensure_base_images "$work"

# --- the runtime image from the host's release build ------------------------------------------
[ -x target/release/server ] && [ -d target/site ] || { say "no release build (cargo leptos build --release)"; echo "containers: 0 passed, 1 failed"; exit 1; }
scripts/image-from-build "$tag" >/dev/null
MADE_IMAGES+=("$tag")
size=$(docker image inspect "$tag" --format '{{.Size}}')
base_size=$(docker image inspect debian:bookworm-slim --format '{{.Size}}')
say "runtime image: $((size / 1000000)) MB ($((base_size / 1000000)) MB of it the base image)"

redis_cli() { $COMPOSE exec -T redis redis-cli "$@"; }
readyz() { curl -fsS "$base/readyz" >/dev/null; }
jar="$work/cookies"
enqueue() { # enqueue SECONDS → prints the job id
  curl -fsS -b "$jar" -c "$jar" -X POST -H 'content-type: application/json' \
    "$base/tasks/enqueue?seconds=$1" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p'
}
state_of() { curl -fsS -b "$jar" -c "$jar" "$base/tasks/status/$1" | sed -n 's/.*"state":"\([^"]*\)".*/\1/p'; }
is_state() { [ "$(state_of "$1")" = "$2" ]; }
processed_by() { redis_cli HGET "sentinel:sentinel-tasks:$1" pb | tr -d '\r'; }
events_of() { # events_of ID NAME → how many NAME events the stream holds for job ID
  redis_cli XRANGE sentinel:sentinel-tasks:events - + | tr -d '\r' | awk -v id="$1" -v name="$2" '
    prev == "event" { ev = $0 } prev == "jobId" { if ($0 == id && ev == name) n++ } { prev = $0 } END { print n + 0 }'
}

# --- up: ready, and a task runs on a worker container -------------------------------------------
t0=$(now_ms)
$COMPOSE up -d --no-build --scale worker=1 >"$work/up.log" 2>&1 || cat "$work/up.log"
check "the web service answers /readyz" until_ok 90 readyz
ready_ms=$(($(now_ms) - t0))
say "compose up → web ready: $ready_ms ms"
id=$(enqueue 2)
check "a task enqueued through the web service completes" until_ok 30 is_state "$id" completed
ran_on_a_worker() { case "$(processed_by "$1")" in sentinel@*) return 0;; *) return 1;; esac; }
check "it ran in a worker container" ran_on_a_worker "$id"
result=$(curl -fsS -b "$jar" "$base/tasks/status/$id")
check "with its result" grep -q "Tâche $id terminée" <<<"$result"

# --- nobody runs as root -------------------------------------------------------------------------
for service in web worker; do
  container=$($COMPOSE ps -q "$service" | head -n1)
  uid=$(docker exec "$container" sh -c 'id -u' 2>/dev/null || docker inspect --format '{{.Config.User}}' "$container")
  check "$service runs as a non-root user (uid $uid)" test "$uid" != 0 -a "$uid" != root
done

# --- scale to three workers: a burst runs on all three -------------------------------------------
$COMPOSE up -d --no-build --scale worker=3 >"$work/scale.log" 2>&1 || cat "$work/scale.log"
workers_healthy() { [ "$(docker ps --filter "label=com.docker.compose.project=$project" --filter health=healthy --format '{{.Names}}' | grep -c worker)" -ge 3 ]; }
check "three workers are healthy" until_ok 60 workers_healthy
burst=()
for _ in $(seq 1 12); do burst+=("$(enqueue 2)"); done
all_done() { for j in "${burst[@]}"; do is_state "$j" completed || return 1; done; }
check "the burst completes" until_ok 60 all_done
distinct=$(for j in "${burst[@]}"; do processed_by "$j"; done | sed 's/:[0-9]*$//' | sort -u | wc -l)
check "the burst ran on all three workers ($distinct distinct)" test "$distinct" -ge 3

# --- stop a worker mid-task: handed back, completed exactly once by another ---------------------
long=$(enqueue 8)
check "the long task starts" until_ok 30 is_state "$long" active
first=$(processed_by "$long")
victim=$(docker ps --filter "label=com.docker.compose.project=$project" --format '{{.ID}} {{.Names}}' \
  | while read -r cid _; do h=$(docker inspect --format '{{.Config.Hostname}}' "$cid"); case "$first" in *"@$h:"*) echo "$cid";; esac; done)
check "found the worker container running it" test -n "$victim"
docker stop "$victim" >/dev/null
check "another worker completes it" until_ok 60 is_state "$long" completed
second=$(processed_by "$long")
check "the last run was on another worker" test "$second" != "$first"
check "completed exactly once" test "$(events_of "$long" completed)" = 1
check "started exactly twice (once on each worker)" test "$(events_of "$long" active)" = 2

# --- down and up with the volume kept: a waiting task comes back and completes --------------------
$COMPOSE up -d --no-build --scale worker=0 >"$work/noworker.log" 2>&1 || cat "$work/noworker.log"
waiting=$(enqueue 1)
check "a task waits while no worker runs" is_state "$waiting" waiting
$COMPOSE down >"$work/down.log" 2>&1 || cat "$work/down.log"
$COMPOSE up -d --no-build --scale worker=1 >"$work/up2.log" 2>&1 || cat "$work/up2.log"
check "the web service is ready again" until_ok 90 readyz
check "the waiting task came back and completes" until_ok 60 is_state "$waiting" completed

say "container test: $(( ($(now_ms) - t_start) / 1000 )) s in all"
echo "containers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
