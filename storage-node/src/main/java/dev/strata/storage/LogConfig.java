package dev.strata.storage;

import dev.strata.storage.internal.LogRecordDescriptor;

/**
 * Configuration of one {@link PartitionLog}.
 *
 * @param segmentBytes   a new segment file is started when appending a record would grow the current one past
 *                       this size (a single record larger than this still gets a segment of its own)
 * @param maxRecordBytes largest payload accepted by {@code append}; also the bound recovery trusts when reading a
 *                       length field, so it must not shrink between runs over the same directory
 */
public record LogConfig(long segmentBytes, int maxRecordBytes) {
    /** Smallest accepted segment size. */
    public static final long MIN_SEGMENT_BYTES = 4096;
    /** Largest accepted record payload (keeps a frame addressable by an {@code int}). */
    public static final int MAX_RECORD_BYTES_LIMIT = (1 << 30) - LogRecordDescriptor.HEADER_LENGTH;

    public LogConfig {
        if (segmentBytes < MIN_SEGMENT_BYTES) {
            throw new IllegalArgumentException("segmentBytes must be >= " + MIN_SEGMENT_BYTES + ": " + segmentBytes);
        }
        if (maxRecordBytes < 0 || maxRecordBytes > MAX_RECORD_BYTES_LIMIT) {
            throw new IllegalArgumentException(
                    "maxRecordBytes must be in [0, " + MAX_RECORD_BYTES_LIMIT + "]: " + maxRecordBytes);
        }
    }

    /** 64 MiB segments, 16 MiB records. */
    public static LogConfig defaults() {
        return new LogConfig(64L << 20, 16 << 20);
    }
}
