package dev.strata.buffer;

/** A snapshot of a pool's counters. */
public record PoolStats(long hits, long misses, long evictions, long writeBacks, long bytesRead,
        long bytesWritten, long residentBytes, long poolBytes, long dirtyPages) {}
