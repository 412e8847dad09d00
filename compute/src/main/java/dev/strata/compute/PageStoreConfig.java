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
 * @param checkpointLogBytes a checkpoint also runs once this much log accumulated since the last
 * @param segmentBytes size of one log segment file
 * @param memoryNodes memory nodes in front of the local page file (warm tier); empty for none
 * @param memoryReplicas copies of each page kept on memory nodes (at most the number of nodes)
 * @param compressPages whether page images are written to the page file compressed where that saves at least
 *                      one 4 KiB block (they are read back either way); on by default
 */
public record PageStoreConfig(long poolBytes, long capacityBytes, int partition, Duration checkpointInterval,
        long checkpointLogBytes, long segmentBytes, List<InetSocketAddress> memoryNodes, int memoryReplicas,
        boolean compressPages) {

    public PageStoreConfig {
        if (partition < 0 || partition > dev.strata.core.PageId.MAX_PARTITION) {
            throw new IllegalArgumentException("strata.store.partition out of range: " + partition);
        }
        if (checkpointInterval == null || checkpointInterval.isNegative()) {
            throw new IllegalArgumentException("strata.store.checkpoint-interval must be >= 0");
        }
        if (checkpointLogBytes < (1 << 20)) {
            throw new IllegalArgumentException("strata.store.checkpoint-log-bytes must be at least 1 MiB, got "
                    + ByteSize.format(checkpointLogBytes));
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
     * 256 MiB pool over a 64 GiB page space, checkpoints every 30 s or 256 MiB of log, 64 MiB segments, pages
     * compressed.
     */
    public static PageStoreConfig defaults() {
        return new PageStoreConfig(256L << 20, 64L << 30, 0, Duration.ofSeconds(30), 256L << 20, 64L << 20, List.of(),
                2, true);
    }

    public PageStoreConfig withPool(long bytes) {
        return new PageStoreConfig(bytes, Math.max(capacityBytes, bytes), partition, checkpointInterval,
                checkpointLogBytes, segmentBytes,
                memoryNodes, memoryReplicas, compressPages);
    }

    public PageStoreConfig withCapacity(long bytes) {
        return new PageStoreConfig(poolBytes, bytes, partition, checkpointInterval, checkpointLogBytes, segmentBytes,
                memoryNodes, memoryReplicas, compressPages);
    }

    public PageStoreConfig withCheckpointInterval(Duration interval) {
        return new PageStoreConfig(poolBytes, capacityBytes, partition, interval, checkpointLogBytes, segmentBytes,
                memoryNodes, memoryReplicas, compressPages);
    }

    public PageStoreConfig withCheckpointLogBytes(long bytes) {
        return new PageStoreConfig(poolBytes, capacityBytes, partition, checkpointInterval, bytes, segmentBytes,
                memoryNodes, memoryReplicas, compressPages);
    }

    public PageStoreConfig withSegmentBytes(long bytes) {
        return new PageStoreConfig(poolBytes, capacityBytes, partition, checkpointInterval, checkpointLogBytes, bytes,
                memoryNodes, memoryReplicas, compressPages);
    }

    public PageStoreConfig withPartition(int p) {
        return new PageStoreConfig(poolBytes, capacityBytes, p, checkpointInterval, checkpointLogBytes, segmentBytes,
                memoryNodes, memoryReplicas, compressPages);
    }

    /** Puts memory nodes ({@code host:port}) in front of the local page file, each page on {@code replicas} of them. */
    public PageStoreConfig withMemoryNodes(List<InetSocketAddress> nodes, int replicas) {
        return new PageStoreConfig(poolBytes, capacityBytes, partition, checkpointInterval, checkpointLogBytes,
                segmentBytes, nodes, replicas, compressPages);
    }

    /** Whether page images are stored compressed (see {@link #compressPages()}). */
    public PageStoreConfig withPageCompression(boolean compress) {
        return new PageStoreConfig(poolBytes, capacityBytes, partition, checkpointInterval, checkpointLogBytes,
                segmentBytes, memoryNodes, memoryReplicas, compress);
    }

    @Override
    public String toString() {
        return "strata.store.pool=" + ByteSize.format(poolBytes) + ", capacity=" + ByteSize.format(capacityBytes)
                + ", partition=" + partition + ", checkpoint-interval=" + checkpointInterval
                + ", checkpoint-log-bytes=" + ByteSize.format(checkpointLogBytes)
                + ", segment-bytes=" + ByteSize.format(segmentBytes) + ", compress-pages=" + compressPages
                + (memoryNodes.isEmpty() ? "" : ", memory-nodes=" + memoryNodes + ", memory-replicas=" + memoryReplicas);
    }
}
