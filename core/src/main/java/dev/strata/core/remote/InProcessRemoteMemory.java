package dev.strata.core.remote;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;

/**
 * {@link RemoteMemory} over a {@link RegionTable} in the same process: every operation runs on the
 * caller's thread and returns an already-completed future. For tests and embedded use. Closing it
 * does not close the table (the table has its own owner).
 */
public final class InProcessRemoteMemory implements RemoteMemory {
    private final RegionTable table;
    private volatile boolean closed;

    public InProcessRemoteMemory(RegionTable table) {
        this.table = table;
    }

    @Override
    public CompletableFuture<RemoteRegion> allocateRegion(long length) {
        try {
            checkOpen();
            RemoteRegion r = table.allocate(length);
            return r == null ? failed(RemoteStatus.FULL, "no room for a region of " + length + " bytes")
                    : CompletableFuture.completedFuture(r);
        } catch (RemoteMemoryException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public CompletableFuture<Void> freeRegion(long key) {
        return done(closed ? RemoteStatus.UNAVAILABLE : table.free(key), "free region");
    }

    @Override
    public CompletableFuture<Void> read(long key, long offset, MemorySegment dst) {
        return done(closed ? RemoteStatus.UNAVAILABLE : table.read(key, offset, dst), "read");
    }

    @Override
    public CompletableFuture<Void> write(long key, long offset, MemorySegment src) {
        return done(closed ? RemoteStatus.UNAVAILABLE : table.write(key, offset, src), "write");
    }

    @Override
    public CompletableFuture<Long> compareAndSwap(long key, long offset, long expected, long desired) {
        if (closed) {
            return failed(RemoteStatus.UNAVAILABLE, "closed");
        }
        long[] prev = new long[1];
        RemoteStatus s = table.compareAndSwap(key, offset, expected, desired, prev);
        return s == RemoteStatus.OK ? CompletableFuture.completedFuture(prev[0]) : failed(s, "cas at " + offset);
    }

    private void checkOpen() {
        if (closed) {
            throw new RemoteMemoryException(RemoteStatus.UNAVAILABLE, "closed");
        }
    }

    private static CompletableFuture<Void> done(RemoteStatus s, String what) {
        return s == RemoteStatus.OK ? CompletableFuture.completedFuture(null) : failed(s, what);
    }

    private static <T> CompletableFuture<T> failed(RemoteStatus s, String what) {
        return CompletableFuture.failedFuture(new RemoteMemoryException(s, what));
    }

    @Override
    public void close() {
        closed = true;
    }
}
