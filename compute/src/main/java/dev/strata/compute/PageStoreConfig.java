package dev.strata.compute;

import dev.strata.core.ByteSize;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;

/**
 * Configuration of an embedded {@link PageStore}. Keys when read from text: {@code strata.store.*}.
 *
 * @param poolBytes physical memory of the buffer pool (hot tier)
 * @param capacityBytes the page space: the most bytes of pages the store can ever hold (virtual only)
 * @param partition the partition number this store holds (part of every page id)
 * @param checkpointInterval how often a background checkpoint runs (zero disables the timer)
 * @param checkpointLogBytes a checkpoint also runs once this much log accumulated since the last; 0 (the default)
 *                           for {@link #AUTO_CHECKPOINT_LOG_FACTOR} times the pool, between
 *                           {@link #AUTO_CHECKPOINT_LOG_MIN} and {@link #AUTO_CHECKPOINT_LOG_MAX}
 * @param segmentBytes size of one log segment file
 * @param memoryNodes memory nodes in front of the local page file (warm tier); empty for none
 * @param memoryReplicas copies of each page kept on memory nodes (at most the number of nodes)
 * @param compressPages whether page images are written to the page file compressed where that saves at least
 *                      one 4 KiB block (they are read back either way); on by default
 * @param hugePages whether a new store's pool sits on 2 MiB transparent huge pages until its first eviction
 *                  (fewer TLB misses: in-memory point reads 2-16% faster here); off by default, because
 *                  faulting them in made a sequential load 35-40% slower here, where the host takes free
 *                  memory back (index/BENCHMARKS.md, twentieth session). Either way a new pool is faulted in
 *                  ahead of its new pages by the background evictor
 */
public record PageStoreConfig(long poolBytes, long capacityBytes, int partition, Duration checkpointInterval,
        long checkpointLogBytes, long segmentBytes, List<InetSocketAddress> memoryNodes, int memoryReplicas,
        boolean compressPages, boolean hugePages) {

    public PageStoreConfig {
        if (partition < 0 || partition > dev.strata.core.PageId.MAX_PARTITION) {
            throw new IllegalArgumentException("strata.store.partition out of range: " + partition);
        }
        if (checkpointInterval == null || checkpointInterval.isNegative()) {
            throw new IllegalArgumentException("strata.store.checkpoint-interval must be >= 0");
        }
        if (checkpointLogBytes != 0 && checkpointLogBytes < (1 << 20)) {
            String got = checkpointLogBytes < 0 ? checkpointLogBytes + " bytes" : ByteSize.format(checkpointLogBytes);
            throw new IllegalArgumentException(
                    "strata.store.checkpoint-log-bytes must be 0 (auto) or at least 1 MiB, got " + got);
        }
        if (segmentBytes < (1 << 20)) {
            throw new IllegalArgumentException("strata.store.segment-bytes must be at least 1 MiB, got "
                    + ByteSize.format(segmentBytes));
        }
        memoryNodes = List.copyOf(memoryNodes);
        if (memoryReplicas < 1) {
            throw new IllegalArgumentException("strata.store.memory-replicas must be at least 1, got " + memoryReplicas);
        }
        // pool and capacity are validated by BufferPoolConfig when the store opens
    }

    /**
     * 256 MiB pool over a 64 GiB page space, checkpoints every 30 s or {@linkplain #effectiveCheckpointLogBytes
     * four times the pool's bytes of log}, 64 MiB segments, pages compressed, no huge pages.
     */
    public static PageStoreConfig defaults() {
        return new PageStoreConfig(256L << 20, 64L << 30, 0, Duration.ofSeconds(30), 0, 64L << 20, List.of(),
                2, true, false);
    }

    /** With {@code checkpointLogBytes} 0, a checkpoint runs after this many times the pool's bytes of log... */
    public static final int AUTO_CHECKPOINT_LOG_FACTOR = 4;
    /** ...but after at least this much... */
    public static final long AUTO_CHECKPOINT_LOG_MIN = 256L << 20;
    /** ...and at most this much, which bounds the log a recovery replays (up to two intervals' worth). */
    public static final long AUTO_CHECKPOINT_LOG_MAX = 1L << 30;

    /**
     * The log since the last checkpoint that starts the next one: {@code checkpointLogBytes}, or when that is 0,
     * four times the pool, between 256 MiB and 1 GiB. A checkpoint writes back every dirty page, which is up to
     * the whole pool; the pages a writer keeps changing (out of memory, the upper levels of an index, which stay
     * resident and dirty) are written at every checkpoint. With the interval at four times the pool, a checkpoint
     * writes at most a quarter of the log's bytes. 20M random index inserts with a 277 MiB pool: 256 MiB of log
     * per checkpoint gave 45 checkpoints and 21.1 GB of page images written, 1 GiB 11 and 18.4 GB, and 6% less CPU
     * per insert; 2 GiB was no better.
     */
    public long effectiveCheckpointLogBytes() {
        if (checkpointLogBytes != 0) {
            return checkpointLogBytes;
        }
        long auto = poolBytes > Long.MAX_VALUE / AUTO_CHECKPOINT_LOG_FACTOR ? Long.MAX_VALUE
                : AUTO_CHECKPOINT_LOG_FACTOR * poolBytes;
        return Math.clamp(auto, AUTO_CHECKPOINT_LOG_MIN, AUTO_CHECKPOINT_LOG_MAX);
    }

    public PageStoreConfig withPool(long bytes) {
        return new PageStoreConfig(bytes, Math.max(capacityBytes, bytes), partition, checkpointInterval,
                checkpointLogBytes, segmentBytes,
                memoryNodes, memoryReplicas, compressPages, hugePages);
    }

    public PageStoreConfig withCapacity(long bytes) {
        return new PageStoreConfig(poolBytes, bytes, partition, checkpointInterval, checkpointLogBytes, segmentBytes,
                memoryNodes, memoryReplicas, compressPages, hugePages);
    }

    public PageStoreConfig withCheckpointInterval(Duration interval) {
        return new PageStoreConfig(poolBytes, capacityBytes, partition, interval, checkpointLogBytes, segmentBytes,
                memoryNodes, memoryReplicas, compressPages, hugePages);
    }

    public PageStoreConfig withCheckpointLogBytes(long bytes) {
        return new PageStoreConfig(poolBytes, capacityBytes, partition, checkpointInterval, bytes, segmentBytes,
                memoryNodes, memoryReplicas, compressPages, hugePages);
    }

    public PageStoreConfig withSegmentBytes(long bytes) {
        return new PageStoreConfig(poolBytes, capacityBytes, partition, checkpointInterval, checkpointLogBytes, bytes,
                memoryNodes, memoryReplicas, compressPages, hugePages);
    }

    public PageStoreConfig withPartition(int p) {
        return new PageStoreConfig(poolBytes, capacityBytes, p, checkpointInterval, checkpointLogBytes, segmentBytes,
                memoryNodes, memoryReplicas, compressPages, hugePages);
    }

    /** Puts memory nodes ({@code host:port}) in front of the local page file, each page on {@code replicas} of them. */
    public PageStoreConfig withMemoryNodes(List<InetSocketAddress> nodes, int replicas) {
        return new PageStoreConfig(poolBytes, capacityBytes, partition, checkpointInterval, checkpointLogBytes,
                segmentBytes, nodes, replicas, compressPages, hugePages);
    }

    /** Whether page images are stored compressed (see {@link #compressPages()}). */
    public PageStoreConfig withPageCompression(boolean compress) {
        return new PageStoreConfig(poolBytes, capacityBytes, partition, checkpointInterval, checkpointLogBytes,
                segmentBytes, memoryNodes, memoryReplicas, compress, hugePages);
    }

    /** Whether a new store's pool sits on huge pages until its first eviction (see {@link #hugePages()}). */
    public PageStoreConfig withHugePages(boolean on) {
        return new PageStoreConfig(poolBytes, capacityBytes, partition, checkpointInterval, checkpointLogBytes,
                segmentBytes, memoryNodes, memoryReplicas, compressPages, on);
    }

    @Override
    public String toString() {
        return "strata.store.pool=" + ByteSize.format(poolBytes) + ", capacity=" + ByteSize.format(capacityBytes)
                + ", partition=" + partition + ", checkpoint-interval=" + checkpointInterval
                + ", checkpoint-log-bytes=" + (checkpointLogBytes == 0
                        ? "auto (" + ByteSize.format(effectiveCheckpointLogBytes()) + ")"
                        : ByteSize.format(checkpointLogBytes))
                + ", segment-bytes=" + ByteSize.format(segmentBytes) + ", compress-pages=" + compressPages
                + ", huge-pages=" + hugePages
                + (memoryNodes.isEmpty() ? "" : ", memory-nodes=" + memoryNodes + ", memory-replicas=" + memoryReplicas);
    }
}
