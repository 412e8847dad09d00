#!/usr/bin/env bash
# Managed/direct mount throughput over testkit's DelayProxy at several RTTs (see MountBench javadoc).
# Usage: nbd-bridge/bench/mount-bench.sh [sizeMiB repeats rtt-ms...]
set -euo pipefail
JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export JAVA_HOME
./mvnw -B -q -o -pl nbd-bridge test-compile >/dev/null
./mvnw -B -q -o -pl nbd-bridge dependency:build-classpath -Dmdep.outputFile=target/bench.cp -Dmdep.includeScope=test >/dev/null
CP="nbd-bridge/target/test-classes:nbd-bridge/target/classes:$(cat nbd-bridge/target/bench.cp)"
exec "$JAVA_HOME/bin/java" ${BENCH_JAVA_OPTS:-} --enable-native-access=ALL-UNNAMED -Xmx3g -cp "$CP" dev.strata.nbd.bench.MountBench "$@"
