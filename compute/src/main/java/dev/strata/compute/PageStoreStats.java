package dev.strata.compute;

import dev.strata.buffer.PoolStats;

/**
 * A snapshot of an embedded store's figures: the buffer pool's counters plus the log watermarks.
 * {@code logBytes}: payload bytes of every batch committed since the store opened. {@code freePages}: pages
 * freed and not allocated again (reused by later allocations once a checkpoint has recorded their free).
 * {@code pageSpaceBytes}: how much of the page space ({@code strata.store.capacity}) pages have taken so far,
 * freed ones included: it grows only when no freed page of the size asked for can be handed out again.
 * {@code pageImageBytes}: bytes of page images written to the page file since the store opened;
 * {@code pageStoredBytes}: the bytes the file took for them (fewer where images were stored compressed).
 */
public record PageStoreStats(PoolStats pool, long appendedLsn, long durableLsn, long checkpointLsn,
        long checkpoints, long commits, long logBytes, long fsyncs, long allocatedPages, long freePages,
        long pageSpaceBytes, long pageImageBytes, long pageStoredBytes) {}
