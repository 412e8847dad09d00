package dev.strata.compute;

import dev.strata.buffer.PoolStats;

/**
 * A snapshot of an embedded store's figures: the buffer pool's counters plus the log watermarks.
 */
public record PageStoreStats(PoolStats pool, long appendedLsn, long durableLsn, long checkpointLsn,
        long checkpoints, long commits, long fsyncs, long allocatedPages) {}
