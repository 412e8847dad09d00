package dev.strata.memory;

/**
 * Counters of one {@link RemoteTier}.
 *
 * @param memoryHits misses of the pool served by a memory node
 * @param prefetchHits misses served from pages prefetched in a batch
 * @param belowReads misses served by the lower tier
 * @param installs pages installed in memory nodes after a lower-tier read
 * @param writeBacks pages written back (to the lower tier and the memory nodes)
 * @param memoryFailures memory-node requests that failed (the lower tier answered instead)
 * @param prefetched pages requested by prefetch batches
 */
public record RemoteTierStats(long memoryHits, long prefetchHits, long belowReads, long installs, long writeBacks,
        long memoryFailures, long prefetched) {}
