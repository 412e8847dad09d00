package dev.strata.memory;

import dev.strata.core.remote.RemoteMemoryException;
import dev.strata.core.remote.RemoteRegion;
import dev.strata.core.remote.RemoteStatus;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;

/** A client whose page writes can be made to fail (as if the node were briefly unreachable), for tests. */
final class FaultyClient implements MemoryNodeClient {
    private final MemoryNodeClient inner;
    volatile boolean failPuts;

    FaultyClient(MemoryNodeClient inner) {
        this.inner = inner;
    }

    @Override
    public CompletableFuture<RemoteStatus> put(long pageId, long epoch, long lsn, MemorySegment src) {
        return failPuts ? CompletableFuture.failedFuture(new RemoteMemoryException(RemoteStatus.TIMEOUT, "injected"))
                : inner.put(pageId, epoch, lsn, src);
    }

    @Override public CompletableFuture<PageRead> get(long p, int sc, MemorySegment dst) { return inner.get(p, sc, dst); }
    @Override public CompletableFuture<RemoteStatus> free(long p, long e) { return inner.free(p, e); }
    @Override public CompletableFuture<Long> fence(int partition, long epoch) { return inner.fence(partition, epoch); }
    @Override public CompletableFuture<RemoteRegion> allocateRegion(long length) { return inner.allocateRegion(length); }
    @Override public CompletableFuture<Void> freeRegion(long key) { return inner.freeRegion(key); }
    @Override public CompletableFuture<Void> read(long k, long o, MemorySegment d) { return inner.read(k, o, d); }
    @Override public CompletableFuture<Void> write(long k, long o, MemorySegment s) { return inner.write(k, o, s); }
    @Override public CompletableFuture<Long> compareAndSwap(long k, long o, long e, long d) { return inner.compareAndSwap(k, o, e, d); }
    @Override public String address() { return inner.address(); }
    @Override public int inFlight() { return inner.inFlight(); }
    @Override public boolean isAvailable() { return inner.isAvailable(); }
    @Override public void close() { inner.close(); }
}
