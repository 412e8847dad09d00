package dev.strata.memory;

/**
 * Settings of a {@link RemoteTier}. Keys when read from text: {@code strata.memory.tier.*}.
 *
 * @param prefetchTrigger consecutive sequential misses that start a prefetch (0 disables automatic prefetch)
 * @param prefetchWindow pages read ahead in one batch
 * @param prefetchCapacity most prefetched pages held waiting for their miss
 * @param installOnMiss whether a page read from the lower tier is installed in the memory nodes
 */
public record RemoteTierOptions(int prefetchTrigger, int prefetchWindow, int prefetchCapacity, boolean installOnMiss) {
    public RemoteTierOptions {
        if (prefetchTrigger < 0 || prefetchWindow < 1 || prefetchWindow > 1024 || prefetchCapacity < prefetchWindow) {
            throw new IllegalArgumentException("strata.memory.tier prefetch settings invalid: trigger " + prefetchTrigger
                    + ", window " + prefetchWindow + ", capacity " + prefetchCapacity);
        }
    }

    /** Prefetch 32 pages after 2 sequential misses, hold at most 512, install on miss. */
    public static RemoteTierOptions defaults() {
        return new RemoteTierOptions(2, 32, 512, true);
    }

    public RemoteTierOptions withoutPrefetch() {
        return new RemoteTierOptions(0, prefetchWindow, prefetchCapacity, installOnMiss);
    }
}
