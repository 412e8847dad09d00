package dev.strata.nbd.backend;

import dev.strata.core.remote.RemoteMemory;
import dev.strata.core.remote.RemoteMemoryException;
import dev.strata.core.remote.RemoteRegion;
import dev.strata.memory.ClientOptions;
import dev.strata.memory.MemoryNodeClient;
import dev.strata.nbd.Backend;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * A memory node region as a backend: one pipelined connection; a request is split into one-sided
 * READ/WRITE operations of at most {@link RemoteMemory#MAX_TRANSFER} bytes, all posted at once and
 * landing straight in the caller's segment. Either attaches to an existing region (its key and
 * length given) or allocates a fresh zeroed one, which it then frees on close. A memory node keeps
 * nothing across its own restart, so {@link #sync()} is only a barrier: every write has been
 * acknowledged by the node when {@code writeAt} returns.
 */
public final class RegionBackend implements Backend {
    /** A thread no segment is confined to: segments it may access are shared (or heap). */
    private static final Thread PROBE = Thread.ofPlatform().unstarted(() -> { });
    private final MemoryNodeClient client;
    private final RemoteRegion region;
    private final boolean owned;
    private final String where;

    private RegionBackend(MemoryNodeClient client, RemoteRegion region, boolean owned, String where) {
        this.client = client;
        this.region = region;
        this.owned = owned;
        this.where = where;
    }

    /**
     * Attaches to region {@code key} of {@code length} bytes on the node at {@code address}, or, when
     * {@code key} is empty, allocates a region of {@code length} bytes there.
     */
    public static RegionBackend open(InetSocketAddress address, java.util.OptionalLong key, long length, Duration timeout)
            throws IOException {
        MemoryNodeClient c = MemoryNodeClient.connect(address, ClientOptions.defaults().withRequestTimeout(timeout));
        String node = "memory node " + address.getHostString() + ":" + address.getPort();
        String where = key.isEmpty() ? node : node + " region " + Long.toUnsignedString(key.getAsLong());
        try {
            RegionBackend b;
            if (key.isEmpty()) {
                RemoteRegion r = c.allocateRegion(length).join();
                b = new RegionBackend(c, r, true, node + " region " + Long.toUnsignedString(r.key()));
            } else {
                long k = key.getAsLong();
                b = new RegionBackend(c, new RemoteRegion(k, length), false, where);
                // fail now, with the node's answer, if the key or the length is wrong
                MemorySegment last = MemorySegment.ofArray(new byte[1]);
                c.read(k, length - 1, last).join();
            }
            return b;
        } catch (CompletionException | RemoteMemoryException e) {
            c.close();
            Throwable t = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            throw new IOException(where + ": " + t.getMessage(), t);
        }
    }

    /** The region's key (for a region this backend allocated: the one to attach to elsewhere). */
    public long key() {
        return region.key();
    }

    @Override
    public long size() {
        return region.length();
    }

    @Override
    public void readAt(long offset, MemorySegment dst) throws IOException {
        check(offset, dst.byteSize());
        if (!dst.isAccessibleBy(PROBE)) { // confined to the caller, the I/O thread cannot fill it: bounce
            MemorySegment tmp = MemorySegment.ofArray(new byte[Math.toIntExact(dst.byteSize())]);
            readAt(offset, tmp);
            MemorySegment.copy(tmp, 0, dst, 0, dst.byteSize());
            return;
        }
        transfer(offset, dst, false);
    }

    @Override
    public void writeAt(long offset, MemorySegment src) throws IOException {
        check(offset, src.byteSize());
        if (!src.isAccessibleBy(PROBE)) {
            MemorySegment tmp = MemorySegment.ofArray(new byte[Math.toIntExact(src.byteSize())]);
            MemorySegment.copy(src, 0, tmp, 0, src.byteSize());
            src = tmp;
        }
        transfer(offset, src, true);
    }

    private void check(long offset, long length) throws IOException {
        if (offset < 0 || length < 0 || offset > region.length() - length) {
            throw new IOException(where + ": range [" + offset + ", +" + length + ") outside its " + region.length() + " bytes");
        }
    }

    private void transfer(long offset, MemorySegment seg, boolean write) throws IOException {
        long n = seg.byteSize();
        int pieces = (int) ((n + RemoteMemory.MAX_TRANSFER - 1) / RemoteMemory.MAX_TRANSFER);
        CompletableFuture<?>[] fs = new CompletableFuture<?>[pieces];
        for (int i = 0; i < pieces; i++) {
            long at = (long) i * RemoteMemory.MAX_TRANSFER;
            MemorySegment part = seg.asSlice(at, Math.min(RemoteMemory.MAX_TRANSFER, n - at));
            fs[i] = write ? client.write(region.key(), offset + at, part) : client.read(region.key(), offset + at, part);
        }
        try {
            CompletableFuture.allOf(fs).join();
        } catch (CompletionException e) {
            Throwable t = e.getCause() != null ? e.getCause() : e;
            throw new IOException(where + ": " + (write ? "write" : "read") + " at " + offset + " failed: " + t.getMessage(), t);
        }
    }

    /** The node has no discard: the range is overwritten with zeros, which is what a trim must read back as. */
    @Override
    public boolean trim(long offset, long length) throws IOException {
        check(offset, length);
        return zero(offset, length, false);
    }

    @Override
    public void sync() {
        // every write was acknowledged by the node before writeAt returned; nothing is buffered here
    }

    @Override
    public void close() {
        try {
            if (owned) {
                client.freeRegion(region.key()).exceptionally(e -> null).join();
            }
        } finally {
            client.close();
        }
    }

    @Override
    public String toString() {
        return where + " (" + region.length() + " bytes)";
    }
}
