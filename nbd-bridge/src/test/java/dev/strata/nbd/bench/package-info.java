/** Benchmark mains (run by nbd-bridge/bench/*.sh, not by the test suite). */
package dev.strata.nbd.bench;
