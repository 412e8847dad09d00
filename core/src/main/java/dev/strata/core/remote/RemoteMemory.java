package dev.strata.core.remote;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One-sided access to the registered memory regions of one remote node: the transport SPI under
 * memory nodes (DESIGN §6).
 *
 * <p>Shaped so that an RDMA verbs transport maps one-to-one:
 * <table>
 * <caption>SPI to verbs</caption>
 * <tr><th>this SPI</th><th>verbs</th></tr>
 * <tr><td>{@link #allocateRegion} / {@link #freeRegion} (control plane)</td>
 *     <td>remote {@code ibv_reg_mr} / {@code ibv_dereg_mr}, key exchange over the connection manager</td></tr>
 * <tr><td>{@link RemoteRegion#key()}</td><td>{@code rkey} + remote base address</td></tr>
 * <tr><td>{@link #read} / {@link #write}</td><td>{@code IBV_WR_RDMA_READ} / {@code IBV_WR_RDMA_WRITE}</td></tr>
 * <tr><td>{@link #compareAndSwap}</td><td>{@code IBV_WR_ATOMIC_CMP_AND_SWP} (8 bytes, 8-aligned, returns the old value)</td></tr>
 * <tr><td>{@link #readBatch} / {@link #writeBatch}</td><td>a chained work-request list, one doorbell</td></tr>
 * <tr><td>the returned {@link CompletableFuture}</td><td>a completion-queue entry, matched by {@code wr_id}</td></tr>
 * </table>
 *
 * <p>Local segments should be native (off-heap) memory: a verbs transport registers them (an
 * {@code lkey}, through a registration cache); the TCP transport copies straight between them and
 * its socket buffers. A local segment must stay valid and untouched until the operation's future
 * completes, exactly as with a posted work request, and be accessible from other threads (shared,
 * global or auto arena), since an I/O thread may copy into it. Many operations may be in flight per
 * connection; completions may arrive in any order. Operations are not atomic with respect to each
 * other except {@link #compareAndSwap}; a read racing a write to the same bytes may see either.
 *
 * <p>Failures complete the future with a {@link RemoteMemoryException} naming a
 * {@link RemoteStatus}. Implementations are thread-safe.
 */
public interface RemoteMemory extends AutoCloseable {
    /** Largest single transfer (read or write length) any implementation accepts. */
    int MAX_TRANSFER = RemoteFrameDescriptor.MAX_PAYLOAD;

    /** Registers a new zeroed region of {@code length} bytes on the remote node; fails with {@code FULL} over capacity. */
    CompletableFuture<RemoteRegion> allocateRegion(long length);

    /** Frees a region; later operations naming its key fail with {@code BAD_KEY}. */
    CompletableFuture<Void> freeRegion(long key);

    /** Reads {@code dst.byteSize()} bytes at {@code offset} of region {@code key} into {@code dst}. */
    CompletableFuture<Void> read(long key, long offset, MemorySegment dst);

    /** Writes the bytes of {@code src} at {@code offset} of region {@code key}. */
    CompletableFuture<Void> write(long key, long offset, MemorySegment src);

    /**
     * Atomically replaces the 8-byte little-endian word at {@code offset} (8-aligned) with
     * {@code desired} if it equals {@code expected}.
     *
     * @return the word's previous value (the swap happened iff it equals {@code expected})
     */
    CompletableFuture<Long> compareAndSwap(long key, long offset, long expected, long desired);

    /** Posts every read, completing when all have; the first failure fails the whole batch. */
    default CompletableFuture<Void> readBatch(List<RemoteOp> ops) {
        CompletableFuture<?>[] all = new CompletableFuture<?>[ops.size()];
        for (int i = 0; i < all.length; i++) {
            RemoteOp op = ops.get(i);
            all[i] = read(op.regionKey(), op.offset(), op.local());
        }
        return CompletableFuture.allOf(all);
    }

    /** Posts every write, completing when all have; the first failure fails the whole batch. */
    default CompletableFuture<Void> writeBatch(List<RemoteOp> ops) {
        CompletableFuture<?>[] all = new CompletableFuture<?>[ops.size()];
        for (int i = 0; i < all.length; i++) {
            RemoteOp op = ops.get(i);
            all[i] = write(op.regionKey(), op.offset(), op.local());
        }
        return CompletableFuture.allOf(all);
    }

    /** Closes the connection; operations still in flight fail with {@code UNAVAILABLE}. Idempotent. */
    @Override
    void close();
}
