#!/usr/bin/env bash
# Side-by-side NBD server benchmark: Strata's server (memory backend) vs nbdkit memory, same machine.
# nbdcopy 1 GiB sequential write/read, fio nbd engine random 4 KiB read/write at iodepth 1 and 32.
# Usage: nbd-bridge/bench/peer-bench.sh [repeats]   (build first: ./mvnw -pl nbd-bridge -am install -DskipTests)
set -euo pipefail
REPEATS=${1:-3}
RUNTIME=${RUNTIME:-8}
JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
export PATH=/usr/bin:$PATH
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SRC=/dev/shm/nbd-bench-src.img
OUT=$(mktemp -d)
. "$(dirname "$0")/common.sh"
# a private copy of the classes, so a rebuild during the run cannot break a server start
(cd "$ROOT" && JAVA_HOME=$JAVA_HOME ./mvnw -B -q -o -pl nbd-bridge dependency:build-classpath \
    -Dmdep.outputFile="$OUT/deps.cp" -Dmdep.includeScope=runtime >/dev/null)
cp -r "$ROOT/nbd-bridge/target/classes" "$OUT/classes"
CP="$OUT/classes:$(cat "$OUT/deps.cp")"

head -c 1G /dev/urandom > "$SRC"

start_strata() {
  local port=$1
  "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Xmx1g -XX:+UseParallelGC -cp "$CP" dev.strata.nbd.NbdCommands serve \
      --backend memory:1G --port "$port" --name "" > "$OUT/strata.log" 2>&1 &
  SERVER_PID=$!; PIDS+=("$SERVER_PID")
}
start_nbdkit() {
  local port=$1
  nbdkit -f -p "$port" -i 127.0.0.1 memory 1G > "$OUT/nbdkit.log" 2>&1 &
  SERVER_PID=$!; PIDS+=("$SERVER_PID")
}

secs() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1; echo "$(date +%s.%N) - $s" | bc; }

printf "server\trepeat\tnbdcopy_write_GBps\tnbdcopy_read_GBps\tnbdcopy_read2_GBps\trandread_qd1\trandread_qd32\trandwrite_qd1\trandwrite_qd32\n"
for r in $(seq "$REPEATS"); do
  for server in strata nbdkit; do   # interleaved, so load from other work hits both alike
    port=$(free_port)
    start_$server "$port"; pid=$SERVER_PID; wait_port "$port"
    uri="nbd://127.0.0.1:$port/"
    w=$(secs nbdcopy "$SRC" "$uri"); rd=$(secs nbdcopy "$uri" null:); rd2=$(secs nbdcopy "$uri" null:)  # rd2: the same read again, server warm
    rq1=$(fio_iops "$uri" randread 1); rq32=$(fio_iops "$uri" randread 32)
    wq1=$(fio_iops "$uri" randwrite 1); wq32=$(fio_iops "$uri" randwrite 32)
    printf "%s\t%d\t%.2f\t%.2f\t%.2f\t%s\t%s\t%s\t%s\n" "$server" "$r" "$(echo "1.073741824/$w" | bc -l)" \
        "$(echo "1.073741824/$rd" | bc -l)" "$(echo "1.073741824/$rd2" | bc -l)" "$rq1" "$rq32" "$wq1" "$wq32"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
