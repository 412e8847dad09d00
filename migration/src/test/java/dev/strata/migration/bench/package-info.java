/** Benchmark mains for live migration (run by {@code migration/bench/migrate-bench.sh}). */
package dev.strata.migration.bench;
