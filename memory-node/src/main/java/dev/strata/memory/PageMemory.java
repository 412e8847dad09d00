package dev.strata.memory;

import dev.strata.core.remote.RemoteStatus;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;

/**
 * Page frames held by memory nodes, addressed by {@code PageId} (the control plane of DESIGN §6):
 * each stored page keeps its LSN and CRC32C beside it, every transfer is checksummed, and writes
 * carry the partition owner's epoch.
 *
 * <p>Expected outcomes are values ({@link PageRead}, {@link RemoteStatus}); a transport failure
 * (node down, timeout) completes the future exceptionally with a
 * {@link dev.strata.core.remote.RemoteMemoryException}. Completions may run on an I/O thread:
 * dependents must not block. Thread-safe; many requests may be in flight.
 */
public interface PageMemory extends AutoCloseable {
    /**
     * Reads page {@code pageId} of size class {@code sizeClass} into {@code dst} (exactly that
     * size). A stored page of another size class is {@code NOT_FOUND}. {@code dst} must stay valid
     * until the future completes and be accessible from other threads (shared, global or auto arena).
     */
    CompletableFuture<PageRead> get(long pageId, int sizeClass, MemorySegment dst);

    /**
     * Stores a page image (its size class follows from {@code src.byteSize()}). {@code src} is
     * copied before this method returns.
     *
     * @return {@code OK}; {@code STALE_LSN} when a newer copy of the same epoch is already held (kept;
     *     a higher epoch replaces any copy);
     *     {@code STALE_EPOCH} when fenced; {@code FULL} when no frame is free (nothing stored);
     *     {@code CORRUPT} when the bytes failed their checksum on arrival (nothing stored)
     */
    CompletableFuture<RemoteStatus> put(long pageId, long epoch, long lsn, MemorySegment src);

    /** Drops a page ({@code OK}, {@code NOT_FOUND} or {@code STALE_EPOCH}). */
    CompletableFuture<RemoteStatus> free(long pageId, long epoch);

    /** Raises the partition's epoch to at least {@code epoch}; returns the highest epoch now known. */
    CompletableFuture<Long> fence(int partition, long epoch);

    @Override
    void close();
}
