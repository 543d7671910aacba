#!/usr/bin/env bash
# scripts/services.sh {start|stop|status}
# Starts (installing when absent) the real ZooKeeper, MariaDB and Kafka the test suite needs, all in
# parallel and on 127.0.0.1 only, then writes .services/env:
#   KITEQ_TEST_ZK=127.0.0.1:2182  KITEQ_TEST_MYSQL=127.0.0.1:3307  KITEQ_TEST_KAFKA=127.0.0.1:9093
# Ports follow KITEQ_ZK_PORT, KITEQ_MYSQL_PORT, KITEQ_KAFKA_PORT. Prints one line per service.
# On failure: one line naming the service that did not come up, the tail of its log, exit 1, and
# the services that did come up are stopped again.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

SCRIPTS="$KITEQ_ROOT/scripts"
SERVICES=(zookeeper mariadb kafka)
ENV_FILE="$KITEQ_SERVICES_DIR/env"

service_log() {
  case $1 in
    zookeeper) echo "$KITEQ_SERVICES_DIR/zookeeper/zookeeper.log" ;;
    mariadb) echo "$KITEQ_SERVICES_DIR/mariadb/error.log" ;;
    kafka) echo "$KITEQ_SERVICES_DIR/kafka/server.log" ;;
  esac
}

start() {
  local t0 s pkgs=() failed=() apt_t0
  t0=$(now_ns)
  mkdir -p "$KITEQ_SERVICES_DIR"
  rm -f "$ENV_FILE"
  # One `apt-get update` at most for this whole run (see apt_install in lib/common.sh).
  export KITEQ_APT_STAMP="$KITEQ_SERVICES_DIR/.apt-updated.$$"
  rm -f "$KITEQ_APT_STAMP"
  trap 'rm -f "$KITEQ_APT_STAMP"' EXIT

  # Debian packages go in one apt-get transaction (dpkg serialises anyway) while Kafka, which needs
  # none, resolves its jars and starts at the same time.
  if [ "${KITEQ_ZK_FROM_MAVEN:-0}" != 1 ] && [ ! -e /usr/share/java/zookeeper.jar ]; then pkgs+=(zookeeper); fi
  if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then pkgs+=(mariadb-server); fi

  ( "$SCRIPTS/kafka.sh" start ) >"$KITEQ_SERVICES_DIR/kafka.start.out" 2>&1 &
  local kafka_job=$!

  if [ ${#pkgs[@]} -gt 0 ]; then
    apt_t0=$(now_ns)
    # Failure is not final here: each service script retries its own package alone (zookeeper then
    # falls back to Maven Central) and reports the error.
    if apt_install "${pkgs[@]}"; then
      echo "apt: installed ${pkgs[*]} ($(elapsed_since "$apt_t0"))"
    fi
  fi

  ( "$SCRIPTS/zookeeper.sh" start ) >"$KITEQ_SERVICES_DIR/zookeeper.start.out" 2>&1 &
  local zk_job=$!
  ( "$SCRIPTS/mariadb.sh" start ) >"$KITEQ_SERVICES_DIR/mariadb.start.out" 2>&1 &
  local db_job=$!

  wait "$zk_job" || failed+=(zookeeper)
  wait "$db_job" || failed+=(mariadb)
  wait "$kafka_job" || failed+=(kafka)

  for s in "${SERVICES[@]}"; do
    if [[ " ${failed[*]} " != *" $s "* ]]; then tail -n 1 "$KITEQ_SERVICES_DIR/$s.start.out"; fi
  done
  if [ ${#failed[@]} -gt 0 ]; then
    for s in "${failed[@]}"; do
      echo "services: $s did not come up (log: $(service_log "$s"))" >&2
      sed 's/^/  /' "$KITEQ_SERVICES_DIR/$s.start.out" >&2
    done
    stop >/dev/null 2>&1 || true
    echo "services: FAILED to start: ${failed[*]}" >&2
    exit 1
  fi

  cat >"$ENV_FILE.tmp" <<EOF
KITEQ_TEST_ZK=$KITEQ_HOST:${KITEQ_ZK_PORT:-2182}
KITEQ_TEST_MYSQL=$KITEQ_HOST:${KITEQ_MYSQL_PORT:-3307}
KITEQ_TEST_KAFKA=$KITEQ_HOST:${KITEQ_KAFKA_PORT:-9093}
EOF
  mv "$ENV_FILE.tmp" "$ENV_FILE"
  echo "services ready in $(elapsed_since "$t0"), see $ENV_FILE"
}

stop() {
  local s jobs=() rc=0 i=0
  for s in "${SERVICES[@]}"; do
    "$SCRIPTS/$s.sh" stop &
    jobs+=($!)
  done
  for i in "${!jobs[@]}"; do
    wait "${jobs[$i]}" || { rc=1; echo "services: stopping ${SERVICES[$i]} failed" >&2; }
  done
  rm -f "$ENV_FILE"
  return $rc
}

status() {
  local s rc=0
  for s in "${SERVICES[@]}"; do "$SCRIPTS/$s.sh" status || rc=1; done
  return $rc
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 {start|stop|status}" >&2; exit 2 ;;
esac
