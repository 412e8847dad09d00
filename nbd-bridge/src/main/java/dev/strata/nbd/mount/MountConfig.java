package dev.strata.nbd.mount;

import java.time.Duration;

/**
 * Managed-mount settings.
 *
 * @param chunkSize    unit of pull, push and dirty tracking (power of two, at least 4 KiB)
 * @param pullWorkers  background pull threads (0 disables background pull: chunks come on demand)
 * @param pushWorkers  background push threads (at least 1)
 * @param pullBatch    chunks fetched per remote call by a pull worker (merged ranged read)
 * @param pushBatch    adjacent dirty chunks sent per remote call by a push worker
 * @param pushInterval how long dirty data may sit before a background push (flush pushes at once)
 * @param readAhead    chunks after a demand miss moved to the front of the pull queue
 * @param priority     pull order: higher value first; null = ascending offsets
 */
public record MountConfig(int chunkSize, int pullWorkers, int pushWorkers, int pullBatch, int pushBatch,
                          Duration pushInterval, int readAhead, PullPriority priority) {
    public MountConfig {
        if (chunkSize < 4096 || Integer.bitCount(chunkSize) != 1) {
            throw new IllegalArgumentException("chunkSize must be a power of two >= 4096: " + chunkSize);
        }
        if (pullWorkers < 0 || pushWorkers < 1 || pullBatch < 1 || pushBatch < 1 || readAhead < 0) {
            throw new IllegalArgumentException("invalid worker or batch counts");
        }
        if (priority == null) {
            priority = chunk -> -chunk;
        }
    }

    /** 1 MiB chunks, 8 pull and 8 push workers, 4-chunk batches, 50 ms push interval, read-ahead 8. */
    public static MountConfig defaults() {
        return new MountConfig(1 << 20, 8, 8, 4, 4, Duration.ofMillis(50), 8, null);
    }

    /** Pull priority of a chunk: higher is pulled sooner. */
    @FunctionalInterface
    public interface PullPriority {
        double of(long chunk);
    }
}
