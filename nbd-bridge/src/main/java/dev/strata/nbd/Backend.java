package dev.strata.nbd;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * Storage behind an NBD export or a mount: a flat byte range of {@link #size()} bytes.
 *
 * <p>Callers guarantee {@code 0 <= offset && offset + length <= size()}; implementations may be
 * called concurrently from many threads for disjoint or overlapping ranges (the NBD client orders
 * overlapping requests itself). {@link #sync()} makes every write that completed before it durable
 * in this backend's sense (file: fsync, S3/Redis: acknowledged by the server, mount: pushed).
 */
public interface Backend extends AutoCloseable {

    /** Size in bytes; fixed for the life of the backend. */
    long size();

    /** Fills {@code dst} with the bytes at {@code [offset, offset + dst.byteSize())}. */
    void readAt(long offset, MemorySegment dst) throws IOException;

    /** Stores {@code src} at {@code offset}. */
    void writeAt(long offset, MemorySegment src) throws IOException;

    /** Barrier: every write completed before this call is durable when it returns. */
    void sync() throws IOException;

    /** Writes that must be durable on return (FUA); default: write then sync. */
    default void writeDurable(long offset, MemorySegment src) throws IOException {
        writeAt(offset, src);
        sync();
    }

    /** Discards a range (it then reads as zeros here). Returns false if the backend cannot trim. */
    default boolean trim(long offset, long length) throws IOException {
        return false;
    }

    /**
     * Makes a range read as zeros. With {@code fastOnly}, returns false without doing anything
     * when zeroing would be no faster than writing zeros (NBD_CMD_FLAG_FAST_ZERO).
     */
    default boolean zero(long offset, long length, boolean fastOnly) throws IOException {
        if (fastOnly) {
            return false;
        }
        MemorySegment zeros = MemorySegment.ofArray(new byte[(int) Math.min(length, 1 << 20)]);
        for (long done = 0; done < length; ) {
            long n = Math.min(zeros.byteSize(), length - done);
            writeAt(offset + done, zeros.asSlice(0, n));
            done += n;
        }
        return true;
    }

    /**
     * True if every operation completes quickly without blocking (memory). The server then serves
     * small requests on the connection's reader thread instead of handing them to a worker, which
     * saves a thread hand-off per request (queue depth 1 latency); large ones still run in parallel.
     */
    default boolean nonBlocking() {
        return false;
    }

    /**
     * A read-only view of {@code [offset, offset+length)} that stays valid while the backend is open,
     * if the backend's bytes live in memory; the server then sends READ replies straight from it (no
     * copy). Concurrent writes to the range may show through, which NBD allows for overlapping
     * requests in flight. Default: null (use {@link #readAt}).
     */
    default MemorySegment readView(long offset, long length) {
        return null;
    }

    /** Hint that a range will be read soon (NBD_CMD_CACHE). */
    default void prefetch(long offset, long length) throws IOException {}

    /**
     * Reports allocation of {@code [offset, offset + length)} as extents, in order, covering at
     * least the first byte. Default: one allocated extent.
     */
    default void blockStatus(long offset, long length, ExtentSink sink) throws IOException {
        sink.extent(length, 0);
    }

    /** Receives base:allocation extents: a length and NBD_STATE_HOLE(1)|NBD_STATE_ZERO(2) flags. */
    @FunctionalInterface
    interface ExtentSink {
        /** Returns false when the sink wants no more extents. */
        boolean extent(long length, int flags);
    }

    /** Idempotent. */
    @Override
    void close() throws IOException;
}
