#!/usr/bin/env bash
# A/B benchmark of Strata server builds (and nbdkit) on a few rows of peer-bench.sh, interleaved.
# Usage: nbd-bridge/bench/ab-bench.sh REPEATS SERVER...   where SERVER is nbdkit or LABEL=CLASSES_DIR[:JVM_OPT...]
#   (a copy of nbd-bridge/target/classes, e.g. cp -r nbd-bridge/target/classes /tmp/a; JVM options
#   after the directory, colon-separated: a=/tmp/a:-Dstrata.nbd.maxDeferred=8).
# ROWS (default "write read read2 randwrite32 randread32"), RUNTIME (fio seconds, default 8),
# JAVA_OPTS (extra JVM flags for Strata servers). Run under flock /tmp/strata-bench.lock.
set -euo pipefail
REPEATS=$1; shift
RUNTIME=${RUNTIME:-8}
ROWS=${ROWS:-"write read read2 randwrite32 randread32"}
JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
export PATH=/usr/bin:$PATH
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SRC=/dev/shm/nbd-ab-src.img
OUT=$(mktemp -d)
(cd "$ROOT" && JAVA_HOME=$JAVA_HOME ./mvnw -B -q -o -pl nbd-bridge dependency:build-classpath \
    -Dmdep.outputFile="$OUT/deps.cp" -Dmdep.includeScope=runtime >/dev/null)
DEPS=$(cat "$OUT/deps.cp")
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$OUT" "$SRC"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 600); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; cat "$OUT"/*.log >&2; exit 1; }
head -c 1G /dev/urandom > "$SRC"

start() { # server port
  if [ "$1" = nbdkit ]; then
    nbdkit -f -p "$2" -i 127.0.0.1 memory 1G > "$OUT/nbdkit.log" 2>&1 &
  else
    local spec=${1#*=}; local dir=${spec%%:*}; local opts=""
    [ "$dir" != "$spec" ] && opts=${spec#*:}
    # shellcheck disable=SC2086
    "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Xmx1g -XX:+UseParallelGC ${JAVA_OPTS:-} ${opts//:/ } \
        -cp "$dir:$DEPS" dev.strata.nbd.NbdCommands serve --backend memory:1G --port "$2" --name "" \
        > "$OUT/strata.log" 2>&1 &
  fi
  SERVER_PID=$!; PIDS+=("$SERVER_PID")
}
fio_iops() { # uri rw depth
  fio --output-format=terse --name=j --ioengine=nbd --uri="$1" --rw="$2" --bs=4k --iodepth="$3" \
      --time_based --runtime="$RUNTIME" --size=1g --randrepeat=0 2>/dev/null \
    | awk -F';' -v rw="$2" '/^3;/{print (rw=="randread") ? $8 : $49}'
}
gbps() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1; echo "1.073741824 / ($(date +%s.%N) - $s)" | bc -l | xargs printf "%.2f"; }

printf "server\trepeat\t%s\tload\n" "$(echo $ROWS | tr ' ' '\t')"
for r in $(seq "$REPEATS"); do
  for server in "$@"; do
    port=$(free_port); start "$server" "$port"; pid=$SERVER_PID; wait_port "$port"
    uri="nbd://127.0.0.1:$port/"
    line="${server%%=*}\t$r"
    for row in $ROWS; do
      case $row in
        write) v=$(gbps nbdcopy "$SRC" "$uri") ;;
        read|read2|read3) v=$(gbps nbdcopy "$uri" null:) ;;
        randwrite32) v=$(fio_iops "$uri" randwrite 32) ;;
        randread32) v=$(fio_iops "$uri" randread 32) ;;
        randwrite1) v=$(fio_iops "$uri" randwrite 1) ;;
        randread1) v=$(fio_iops "$uri" randread 1) ;;
      esac
      line="$line\t$v"
    done
    printf "$line\t%s\n" "$(cut -d' ' -f1 /proc/loadavg)"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
