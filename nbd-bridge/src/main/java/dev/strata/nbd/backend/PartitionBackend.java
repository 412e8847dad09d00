package dev.strata.nbd.backend;

import dev.strata.compute.PageHandle;
import dev.strata.compute.PageStore;
import dev.strata.compute.WriteBatch;
import dev.strata.core.PageId;
import dev.strata.nbd.Backend;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A Strata partition ({@link PageStore}) as a block device: NBD block {@code b} (4 KiB) is page number
 * {@code b} of the partition. The pages are allocated on first open, in batches. Reads are optimistic
 * page reads; a write is one {@link WriteBatch} over the pages it touches, logged with group commit.
 * Plain writes return once the batch is sealed (readable, not yet durable); FUA and FLUSH wait until
 * every such batch is durable in the partition log.
 *
 * <p>Pages are latched in ascending order and a striped lock keeps two batches from claiming one page
 * at once (PageStore refuses that).
 */
public final class PartitionBackend implements Backend {
    private static final int PAGE = 4096;
    private static final int STRIPES = 1024;
    private static final long BATCH_BYTES = 1 << 20;
    private final PageStore store;
    private final long size;
    private final int partition;
    private final ReentrantLock[] stripes = new ReentrantLock[STRIPES];
    private final Set<CompletableFuture<Long>> pending = ConcurrentHashMap.newKeySet();

    /** Takes ownership of {@code store}; allocates pages 0 .. size/4096 if the partition is new. */
    public PartitionBackend(PageStore store, long size) {
        if (size % PAGE != 0) {
            throw new IllegalArgumentException("partition export size must be a multiple of 4 KiB");
        }
        this.store = store;
        this.size = size;
        this.partition = store.config().partition();
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new ReentrantLock();
        }
        long pages = size / PAGE;
        long next = 0;
        while (next < pages && store.isAllocated(PageId.of(partition, next))) {
            next++;
        }
        byte[] zero = new byte[1];
        while (next < pages) {
            try (WriteBatch b = store.newBatch()) {
                for (int i = 0; i < 1024 && next < pages; i++, next++) {
                    long id = b.allocate(PAGE);
                    if (PageId.pageNumber(id) != next) {
                        throw new IllegalStateException("partition is not a block device image: expected page "
                                + next + ", allocated " + PageId.toString(id));
                    }
                    // Work-around: PageStore (compute) forgets across close/reopen the allocation of pages
                    // that were never written, so every page gets one (zero) byte written with its allocation.
                    try (PageHandle h = store.fixExclusive(id)) {
                        b.write(h, 0, zero);
                    }
                }
                b.commit();
            }
        }
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void readAt(long offset, MemorySegment dst) {
        long len = dst.byteSize();
        for (long done = 0; done < len; ) {
            long pos = offset + done;
            long page = pos / PAGE;
            int in = (int) (pos % PAGE);
            int n = (int) Math.min(PAGE - in, len - done);
            long d = done;
            store.readOptimistic(PageId.of(partition, page), seg -> {
                MemorySegment.copy(seg, in, dst, d, n);
                return null;
            });
            done += n;
        }
    }

    @Override
    public void writeAt(long offset, MemorySegment src) throws IOException {
        CompletableFuture<Long> f = write(offset, src);
        pending.add(f);
        f.whenComplete((lsn, e) -> {
            if (e == null) {
                pending.remove(f);
            }
        });
    }

    @Override
    public void writeDurable(long offset, MemorySegment src) throws IOException {
        await(write(offset, src));
    }

    private CompletableFuture<Long> write(long offset, MemorySegment src) {
        long len = src.byteSize();
        long first = offset / PAGE;
        long last = (offset + len - 1) / PAGE;
        boolean[] held = new boolean[STRIPES];
        for (long p = first; p <= last; p++) { // ascending stripe order: no deadlock between writers
            held[(int) (p % STRIPES)] = true;
        }
        for (int i = 0; i < STRIPES; i++) {
            if (held[i]) {
                stripes[i].lock();
            }
        }
        try {
            // one batch per BATCH_BYTES: a batch's pages stay pinned until it commits, so a single
            // batch for a 32 MiB NBD write could not fit a small pool (NBD writes need not be atomic)
            CompletableFuture<Long> all = null;
            for (long done = 0; done < len; ) {
                try (WriteBatch batch = store.newBatch()) {
                    long end = Math.min(len, done + BATCH_BYTES);
                    while (done < end) {
                        long pos = offset + done;
                        long page = pos / PAGE;
                        int in = (int) (pos % PAGE);
                        int n = (int) Math.min(PAGE - in, end - done);
                        try (PageHandle h = store.fixExclusive(PageId.of(partition, page))) {
                            batch.write(h, in, src.asSlice(done, n));
                        }
                        done += n;
                    }
                    CompletableFuture<Long> f = batch.commitAsync();
                    all = all == null ? f : all.thenCombine(f, Math::max);
                }
            }
            return all == null ? CompletableFuture.completedFuture(0L) : all;
        } finally {
            for (int i = STRIPES - 1; i >= 0; i--) {
                if (held[i]) {
                    stripes[i].unlock();
                }
            }
        }
    }

    /** Trim writes zeros: the range then reads as zeros. */
    @Override
    public boolean trim(long offset, long length) throws IOException {
        return zero(offset, length, false);
    }

    /** Waits until every write completed before this call is durable in the partition log. */
    @Override
    public void sync() throws IOException {
        for (CompletableFuture<Long> f : java.util.List.copyOf(pending)) {
            await(f);
            pending.remove(f);
        }
    }

    private static void await(CompletableFuture<Long> f) throws IOException {
        try {
            f.get();
        } catch (ExecutionException e) {
            throw new IOException("partition log commit failed", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    /** Syncs, then closes the page store. Idempotent. */
    @Override
    public void close() throws IOException {
        if (!store.isOpen()) {
            return;
        }
        try {
            sync();
        } finally {
            store.close();
        }
    }
}
