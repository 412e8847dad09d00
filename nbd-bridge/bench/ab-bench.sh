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
. "$(dirname "$0")/common.sh"
(cd "$ROOT" && JAVA_HOME=$JAVA_HOME ./mvnw -B -q -o -pl nbd-bridge dependency:build-classpath \
    -Dmdep.outputFile="$OUT/deps.cp" -Dmdep.includeScope=runtime >/dev/null)
DEPS=$(cat "$OUT/deps.cp")
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
