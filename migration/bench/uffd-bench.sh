#!/usr/bin/env bash
# userfaultfd frontend throughput from a local file backend in /dev/shm (see UffdBench javadoc).
# Usage: migration/bench/uffd-bench.sh [sizeMiB repeats faultThreads maxWindowMiB]
set -euo pipefail
JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export JAVA_HOME
./mvnw -B -q -o -pl migration test-compile >/dev/null
./mvnw -B -q -o -pl migration dependency:build-classpath -Dmdep.outputFile=target/bench.cp -Dmdep.includeScope=test >/dev/null
CP="migration/target/test-classes:migration/target/classes:$(cat migration/target/bench.cp)"
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Xmx1g -cp "$CP" dev.strata.migration.bench.UffdBench "$@"
