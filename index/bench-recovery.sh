#!/bin/sh
# Recovery after SIGKILL: runs the out-of-memory insert phase (bench-oom.sh, Strata only) for a while, kills it,
# copies what it left, then opens copies of that image with a cold page cache, each in the same memory cgroup, and
# prints what the redo replayed and how long it took. As root (cgroup v1, drop_caches).
#   index/bench-recovery.sh [seconds before the kill] [opens] [keys] [cacheMiB] [limitMiB] [dir]
# Env: BENCHCP (classpath file under target/ for the writer, default bench.cp); OPEN_CPS (classpath files for the
#      opens, used in turn: "a.cp b.cp" opens the same image with each, for an A/B; default the writer's).
set -eu
AFTER=${1:-55}
OPENS=${2:-2}
KEYS=${3:-20000000}
CACHE=${4:-277}
LIMIT=${5:-768}
DIR=${6:-/tmp/strata-recovery}
HERE=$(cd "$(dirname "$0")" && pwd)
JAVA=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
rm -rf "$DIR" "$DIR-image" "$DIR-try"
ENGINES=strata "$HERE/bench-oom.sh" "$KEYS" "$CACHE" "$LIMIT" "$DIR" > "$DIR.log" 2>&1 &
sleep "$AFTER"
pid=$(pgrep -f "OomBench engine=strata keys=$KEYS .*dir=$DIR " || true)
[ -n "$pid" ] || { echo "the writer is not running (finished or failed): see $DIR.log"; exit 1; }
kill -9 "$pid"
wait || true
cp -r --sparse=always "$DIR/strata" "$DIR-image"
rm -rf "$DIR"
echo "image after $AFTER s: $(du -sh "$DIR-image/log" | cut -f1) of log, $(du -sh "$DIR-image/pages" | cut -f1) of pages"
cg=/sys/fs/cgroup/memory/strata-recovery
set -- ${OPEN_CPS:-${BENCHCP:-bench.cp}}
i=0
while [ "$i" -lt "$OPENS" ]; do
  i=$((i + 1))
  cpfile=$1
  shift
  set -- "$@" "$cpfile"
  CP=$(cat "$HERE/target/$cpfile"):$HERE/target/classes:$HERE/target/test-classes
  echo "open $i with $cpfile"
  rm -rf "$DIR-try"
  cp -r --sparse=always "$DIR-image" "$DIR-try"
  mkdir -p "$cg"
  echo $((LIMIT * 1024 * 1024)) > "$cg/memory.limit_in_bytes"
  sync
  echo 3 > /proc/sys/vm/drop_caches
  sh -c "echo \$\$ > $cg/cgroup.procs; exec $JAVA -Xmx128m --enable-native-access=ALL-UNNAMED \
      --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
      -cp $CP dev.strata.index.bench.RecoveryBench dir=$DIR-try memoryMiB=$CACHE" | grep --line-buffered -v '^WARNING'
  rmdir "$cg" 2>/dev/null || true
done
rm -rf "$DIR-try" "$DIR-image" "$DIR.log"
