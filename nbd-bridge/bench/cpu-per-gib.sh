#!/usr/bin/env bash
# Server CPU time (user+sys, from /proc/PID/stat) per GiB moved by nbdcopy, Strata vs nbdkit memory.
# Unlike wall-clock throughput this hardly depends on what else runs on the machine.
# Usage: nbd-bridge/bench/cpu-per-gib.sh   (build first: ./mvnw -pl nbd-bridge -am install -DskipTests)
set -euo pipefail
JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
export PATH=/usr/bin:$PATH
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$(mktemp -d); SRC=/dev/shm/nbd-cpu-src.img; PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$OUT" "$SRC"; }
trap cleanup EXIT
cp -r "$ROOT/nbd-bridge/target/classes" "$OUT/classes"; cp -r "$ROOT/core/target/classes" "$OUT/core"
head -c 512M /dev/urandom > "$SRC"
HZ=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
measure() { # name
  local port=$2
  for _ in $(seq 300); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  nbdcopy "$SRC" "nbd://127.0.0.1:$port/"   # warm-up (JIT, first touch)
  local c0 t0 c1 t1 c2 t2
  c0=$(cpu "$PID"); t0=$(date +%s.%N)
  for _ in 1 2 3 4; do nbdcopy "$SRC" "nbd://127.0.0.1:$port/"; done
  c1=$(cpu "$PID"); t1=$(date +%s.%N)
  for _ in 1 2 3 4; do nbdcopy "nbd://127.0.0.1:$port/" null:; done
  c2=$(cpu "$PID"); t2=$(date +%s.%N)
  printf "%s\twrite %.2f cpu-s/GiB (%.2f GB/s)\tread %.2f cpu-s/GiB (%.2f GB/s)\n" "$1" \
    "$(echo "($c1-$c0)/$HZ/2" | bc -l)" "$(echo "2.147483648/($t1-$t0)" | bc -l)" \
    "$(echo "($c2-$c1)/$HZ/2" | bc -l)" "$(echo "2.147483648/($t2-$t1)" | bc -l)"
}
port=$(free_port)
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Xmx1g -cp "$OUT/classes:$OUT/core" \
    dev.strata.nbd.NbdCommands serve --backend memory:1G --port "$port" > "$OUT/s.log" 2>&1 & PID=$!
measure strata "$port"; kill "$PID"; wait "$PID" 2>/dev/null || true
port=$(free_port)
nbdkit -f -p "$port" -i 127.0.0.1 memory 1G > "$OUT/n.log" 2>&1 & PID=$!
measure nbdkit "$port"; kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
