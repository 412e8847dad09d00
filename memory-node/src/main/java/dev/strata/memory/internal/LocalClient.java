package dev.strata.memory.internal;

import dev.strata.core.Checksums;
import dev.strata.core.PageSize;
import dev.strata.core.remote.InProcessRemoteMemory;
import dev.strata.core.remote.RegionTable;
import dev.strata.core.remote.RemoteMemoryException;
import dev.strata.core.remote.RemoteRegion;
import dev.strata.core.remote.RemoteStatus;
import dev.strata.memory.MemoryNodeClient;
import dev.strata.memory.PageRead;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;

/**
 * In-process transport to a memory node in the same JVM: every operation runs on the caller's
 * thread against the node's tables and returns a completed future. The checksum is still computed
 * on each side of the copy, so the behaviour matches TCP. Closing it does not stop the node.
 */
public final class LocalClient implements MemoryNodeClient {
    private final PageFrames pages;
    private final InProcessRemoteMemory regions;
    private final int[] unused = new int[0];
    private volatile boolean closed;

    public LocalClient(PageFrames pages, RegionTable regions) {
        this.pages = pages;
        this.regions = new InProcessRemoteMemory(regions);
    }

    private <T> CompletableFuture<T> closedFuture() {
        return CompletableFuture.failedFuture(new RemoteMemoryException(RemoteStatus.UNAVAILABLE, "client closed"));
    }

    @Override
    public CompletableFuture<PageRead> get(long pageId, int sizeClass, MemorySegment dst) {
        if (dst.byteSize() != PageSize.bytes(sizeClass)) {
            throw new IllegalArgumentException("destination is " + dst.byteSize() + " bytes, page is " + PageSize.bytes(sizeClass));
        }
        if (closed) {
            return closedFuture();
        }
        int[] crc = new int[1];
        long lsn;
        try {
            lsn = pages.get(pageId, sizeClass, dst, crc);
        } catch (RemoteMemoryException e) {
            return CompletableFuture.failedFuture(e);
        }
        if (lsn < 0) {
            return CompletableFuture.completedFuture(PageRead.NOT_FOUND);
        }
        return CompletableFuture.completedFuture(Checksums.crc32c(dst) == crc[0]
                ? new PageRead(RemoteStatus.OK, lsn) : PageRead.CORRUPT);
    }

    @Override
    public CompletableFuture<RemoteStatus> put(long pageId, long epoch, long lsn, MemorySegment src) {
        PageSize.classOf((int) Math.min(src.byteSize(), Integer.MAX_VALUE));
        if (closed) {
            return closedFuture();
        }
        try {
            return CompletableFuture.completedFuture(pages.put(pageId, epoch, lsn, Checksums.crc32c(src), src));
        } catch (RemoteMemoryException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public CompletableFuture<RemoteStatus> free(long pageId, long epoch) {
        if (closed) {
            return closedFuture();
        }
        try {
            return CompletableFuture.completedFuture(pages.free(pageId, epoch));
        } catch (RemoteMemoryException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public CompletableFuture<Long> fence(int partition, long epoch) {
        if (partition < 0 || partition > dev.strata.core.PageId.MAX_PARTITION) {
            return CompletableFuture.failedFuture(new RemoteMemoryException(RemoteStatus.OUT_OF_RANGE, "partition " + partition));
        }
        return closed ? closedFuture() : CompletableFuture.completedFuture(pages.fence(partition, epoch));
    }

    @Override
    public CompletableFuture<RemoteRegion> allocateRegion(long length) {
        return closed ? closedFuture() : regions.allocateRegion(length);
    }

    @Override
    public CompletableFuture<Void> freeRegion(long key) {
        return closed ? closedFuture() : regions.freeRegion(key);
    }

    @Override
    public CompletableFuture<Void> read(long key, long offset, MemorySegment dst) {
        return closed ? closedFuture() : regions.read(key, offset, dst);
    }

    @Override
    public CompletableFuture<Void> write(long key, long offset, MemorySegment src) {
        return closed ? closedFuture() : regions.write(key, offset, src);
    }

    @Override
    public CompletableFuture<Long> compareAndSwap(long key, long offset, long expected, long desired) {
        return closed ? closedFuture() : regions.compareAndSwap(key, offset, expected, desired);
    }

    @Override
    public String address() {
        return "in-process";
    }

    @Override
    public int inFlight() {
        return unused.length;
    }

    @Override
    public boolean isAvailable() {
        return !closed;
    }

    @Override
    public void close() {
        closed = true;
    }
}
