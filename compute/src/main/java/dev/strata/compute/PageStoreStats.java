package dev.strata.compute;

import dev.strata.buffer.PoolStats;

/**
 * A snapshot of an embedded store's figures: the buffer pool's counters plus the log watermarks.
 * {@code logBytes}: payload bytes of every batch committed since the store opened.
 */
public record PageStoreStats(PoolStats pool, long appendedLsn, long durableLsn, long checkpointLsn,
        long checkpoints, long commits, long logBytes, long fsyncs, long allocatedPages) {}
