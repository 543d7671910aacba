# shellcheck shell=bash
# Shared helpers for scripts/{zookeeper,mariadb,kafka,services}.sh. Source it; do not run it.
# Everything here talks to 127.0.0.1 only and needs nothing beyond bash, coreutils, procps,
# util-linux (flock) and iproute2 (ss, optional), which a Debian base system has.
# No `cmd | grep -q` in these scripts: under pipefail, grep exiting early can SIGPIPE cmd and turn
# a match into a failure. Capture the output and match with [[ ]] instead.

KITEQ_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KITEQ_SERVICES_DIR="${KITEQ_SERVICES_DIR:-$KITEQ_ROOT/.services}"
KITEQ_HOST=127.0.0.1
# Downloaded jars, kept between runs (and between clones): ~/.cache/kiteq-ts (mvn wants HOME too)
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
export HOME
KITEQ_CACHE_DIR="${KITEQ_CACHE_DIR:-$HOME/.cache/kiteq-ts}"

# Nanosecond clock and "3.2s"-style elapsed time since a mark taken with `now_ns`.
now_ns() { date +%s%N; }
elapsed_since() {
  local d=$(( $(date +%s%N) - $1 ))
  printf '%d.%ds' $((d / 1000000000)) $(((d / 100000000) % 10))
}

# die NAME MESSAGE [LOGFILE]: one line naming the service, then the tail of its log, on stderr.
die() {
  local name=$1 msg=$2 log=${3:-}
  echo "$name: $msg" >&2
  if [ -n "$log" ] && [ -s "$log" ]; then
    echo "--- last lines of $log ---" >&2
    tail -n 30 "$log" >&2
    echo "---" >&2
  fi
  exit 1
}

java_bin() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then echo "$JAVA_HOME/bin/java"; else command -v java; fi
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$KITEQ_HOST/$1" 2>/dev/null
}

# Best-effort description of who listens on PORT (for error messages).
port_holder() {
  if command -v ss >/dev/null 2>&1; then
    ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n 1
  fi
}

# port_owned_by PORT PID: the listener on 127.0.0.1:PORT belongs to PID. Other sessions on the same
# machine may run their own servers on the same ports, so "something answers" is not enough.
# Without ss (iproute2) this cannot be told and is taken as true.
port_owned_by() {
  command -v ss >/dev/null 2>&1 || return 0
  local out
  out=$(ss -Hltnp "sport = :$1" 2>/dev/null) || return 1
  [[ $out == *"pid=$2,"* ]]
}

# pid_alive PID: running, and not a zombie (a server started by this very shell that died stays a
# zombie until the shell exits).
pid_alive() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat:0:1}" != Z ]
}

# pid_matches PID STRING: PID is alive and its command line contains STRING.
pid_matches() {
  local cmd
  pid_alive "$1" || return 1
  cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
  [[ $cmd == *"$2"* ]]
}

# find_pid PIDFILE MARKER COMM: the pid recorded in PIDFILE if that process is still a COMM (e.g.
# java) carrying MARKER in its command line, otherwise the oldest such process, otherwise nothing.
find_pid() {
  local pidfile=$1 marker=$2 comm=$3 pid=""
  [ -f "$pidfile" ] && pid=$(cat "$pidfile" 2>/dev/null || true)
  if pid_matches "$pid" "$marker" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ]; then
    echo "$pid"
    return 0
  fi
  for pid in $(pgrep -x "$comm" 2>/dev/null || true); do
    if pid_matches "$pid" "$marker"; then echo "$pid"; return 0; fi
  done
  return 0
}

# stop_pid NAME PID [TIMEOUT_S]: SIGTERM, wait for exit, SIGKILL after TIMEOUT_S (default 60).
stop_pid() {
  local name=$1 pid=$2 limit=${3:-60} i=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while pid_alive "$pid"; do
    if [ $i -ge $((limit * 10)) ]; then
      echo "$name: pid $pid did not exit ${limit}s after SIGTERM, sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      break
    fi
    sleep 0.1
    i=$((i + 1))
  done
  return 0
}

# apt_install PKG...: installs the packages that are not installed yet, with apt-get only.
# Serialised with flock (the service scripts may run in parallel) and waits up to 5 min for dpkg's
# own lock (another apt may be running on the machine). `apt-get update` runs at most once per run:
# services.sh exports KITEQ_APT_STAMP (a file that exists once the update ran); a standalone
# script updates once itself. Packages' service start scripts (mariadb) are blocked with a
# temporary policy-rc.d when the machine has none.
apt_install() {
  local log="$KITEQ_SERVICES_DIR/apt.log" missing=() p stamp="${KITEQ_APT_STAMP:-}" own_stamp=0
  mkdir -p "$KITEQ_SERVICES_DIR"
  if [ -z "$stamp" ]; then stamp="$KITEQ_SERVICES_DIR/.apt-updated.$$"; own_stamp=1; fi
  (
    flock 9
    for p in "$@"; do
      [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) == *"install ok installed"* ]] || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && exit 0
    export DEBIAN_FRONTEND=noninteractive
    local policy=/usr/sbin/policy-rc.d made_policy=0 rc=0
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\n# temporary, from kiteq-ts scripts/lib/common.sh\nexit 101\n' >"$policy"
      chmod +x "$policy"
      made_policy=1
    fi
    {
      if [ ! -e "$stamp" ]; then
        echo "+ apt-get update"
        apt-get -o DPkg::Lock::Timeout=300 update -q && touch "$stamp"
      fi
      echo "+ apt-get install ${missing[*]}"
      apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 install -y -q --no-install-recommends "${missing[@]}"
    } >>"$log" 2>&1 || rc=$?
    [ $made_policy = 1 ] && rm -f "$policy"
    exit $rc
  ) 9>"$KITEQ_SERVICES_DIR/.apt.lock" || { [ $own_stamp = 1 ] && rm -f "$stamp"; return 1; }
  [ $own_stamp = 1 ] && rm -f "$stamp"
  return 0
}

# mvn_copy_deps NAME POM DEST: resolve POM's runtime dependencies into DEST, once. DEST holds a
# stamp with the pom's checksum (a changed pom re-resolves); resolution goes to DEST.tmp first, so
# an interrupted run leaves no half-filled DEST. The Maven repo stays at ~/.m2. Serialised with
# flock: Maven 3.8 does not lock its local repository.
mvn_copy_deps() {
  local name=$1 pom=$2 dest=$3 sum log="$KITEQ_SERVICES_DIR/$1.mvn.log"
  sum=$(sha256sum "$pom" | cut -c1-16)
  [ -f "$dest/.complete-$sum" ] && return 0
  command -v mvn >/dev/null 2>&1 || die "$name" "mvn is not installed (needed once to fetch the jars into $dest)"
  mkdir -p "$(dirname "$dest")" "$KITEQ_SERVICES_DIR"
  (
    flock 8
    [ -f "$dest/.complete-$sum" ] && exit 0
    rm -rf "$dest.tmp"
    mvn -B -q -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dest.tmp" >"$log" 2>&1 || {
      rm -rf "$dest.tmp"
      exit 1
    }
    touch "$dest.tmp/.complete-$sum"
    rm -rf "$dest"
    mv "$dest.tmp" "$dest"
  ) 8>"$(dirname "$dest")/.mvn.lock" || die "$name" "mvn dependency:copy-dependencies failed for $pom" "$log"
}

# --- the part of every service script that is the same ------------------------------------------
# A service script defines NAME, PORT, STOP_TIMEOUT (seconds), current_pid, healthy and start,
# then ends with: service_main "$@"

service_stop() {
  local t0 pid
  t0=$(now_ns)
  pid=$(current_pid)
  if [ -z "$pid" ]; then
    echo "$NAME not running"
    return 0
  fi
  stop_pid "$NAME" "$pid" "$STOP_TIMEOUT"
  echo "$NAME stopped ($(elapsed_since "$t0"))"
}

service_status() {
  local pid
  pid=$(current_pid)
  if [ -z "$pid" ]; then echo "$NAME stopped"; return 3; fi
  if healthy && port_owned_by "$PORT" "$pid"; then echo "$NAME running on $KITEQ_HOST:$PORT (pid $pid)"; return 0; fi
  echo "$NAME pid $pid is not answering on $KITEQ_HOST:$PORT"
  return 1
}

service_main() {
  case "${1:-}" in
    start) start ;;
    stop) service_stop ;;
    restart) service_stop >/dev/null; start ;;
    status) service_status ;;
    *) echo "usage: $0 {start|stop|restart|status}" >&2; exit 2 ;;
  esac
}
