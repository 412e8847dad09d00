#!/bin/sh
# Out-of-memory insert phase: each engine in its own JVM inside a cgroup v1 memory limit (as root),
# so the OS page cache counts against LMDB and RocksDB as well as Strata.
#   index/bench-oom.sh [keys] [cacheMiB] [limitMiB] [dir]
# Env: ENGINES (default "strata rocksdb lmdb"), MAX_SECONDS (stop an engine after that long; 0 = never),
#      BENCH_ARGS (more OomBench arguments, e.g. shape=true: walk the tree after the run and print its shape),
#      JVM_OPTS (extra JVM flags), BENCHCP (classpath file under target/, default bench.cp).
# Needs: ./mvnw -B -pl index -am install -DskipTests && (cd index && ../mvnw -B -q test-compile
#        dependency:build-classpath -Dmdep.outputFile=target/bench.cp -Dmdep.includeScope=test)
set -eu
KEYS=${1:-4000000}
CACHE=${2:-58}
LIMIT=${3:-384}
DIR=${4:-/tmp/strata-oom}
HERE=$(cd "$(dirname "$0")" && pwd)
JAVA=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
CP=$(cat "$HERE/target/${BENCHCP:-bench.cp}"):$HERE/target/classes:$HERE/target/test-classes${EXTRA_CP:+:$EXTRA_CP}
for e in ${ENGINES:-strata rocksdb lmdb}; do
  cg=/sys/fs/cgroup/memory/strata-oom-$e
  mkdir -p "$cg"
  echo $((LIMIT * 1024 * 1024)) > "$cg/memory.limit_in_bytes"
  echo 0 > "$cg/memory.swappiness" 2>/dev/null || true
  sh -c "echo \$\$ > $cg/cgroup.procs; exec $JAVA ${JVM_OPTS:-} ${HEAP:--Xmx128m -Xms128m} --enable-native-access=ALL-UNNAMED \
      --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
      -cp $CP dev.strata.index.bench.OomBench engine=$e keys=$KEYS memoryMiB=$CACHE dir=$DIR maxSeconds=${MAX_SECONDS:-0} ${BENCH_ARGS:-}" \
    | grep --line-buffered -v '^WARNING' || echo "RESULT $e failed"
  echo "$e peak memory: $(( $(cat "$cg/memory.max_usage_in_bytes") / 1048576 )) MiB, limit $LIMIT MiB"
  rmdir "$cg" 2>/dev/null || true
done
