package dev.strata.storage;

import java.lang.foreign.MemorySegment;

/** Receives log records during {@link PartitionLog#replay}. */
@FunctionalInterface
public interface RecordVisitor {
    /**
     * One durable record. {@code payload} is a read-only view valid only during this call; copy what must outlive
     * it.
     */
    void record(long lsn, long epoch, MemorySegment payload);
}
