package dev.strata.memory;

import dev.strata.buffer.PageSource;
import dev.strata.buffer.PageWrite;
import dev.strata.core.PageId;
import dev.strata.core.PageSize;
import dev.strata.core.remote.RemoteStatus;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * The buffer pool's {@link PageSource} with memory nodes in front of a lower tier (DESIGN §3):
 *
 * <pre>
 *   read miss ──▶ prefetched? ──▶ memory nodes ──hit──▶ done
 *                                      │ miss / failure
 *                                      ▼
 *                                 lower tier ──▶ install in memory nodes (async)
 *
 *   write-back ──▶ lower tier (durable) ──▶ memory nodes (k replicas)
 * </pre>
 *
 * Memory nodes are a cache here, never needed for durability: any memory-node failure is counted and
 * the lower tier answers, so the pool sees latency, never an error. Sequential misses (or an explicit
 * {@link #prefetch} from an index scan) read a window of following pages from the memory nodes in one
 * pipelined batch; those pages wait in a small bounded set for their miss. A write-back of a page
 * drops its prefetched copy, and a prefetch racing any write-back is discarded, so a prefetched copy
 * is never older than the last write-back.
 *
 * <p>Thread-safe, as {@link PageSource} requires.
 */
public final class RemoteTier implements PageSource {
    private record Prefetched(int sizeClass, long lsn, MemorySegment bytes) {}

    private final PageSource below;
    private final PageMemory memory;
    private final int partition;
    private final LongSupplier epoch;
    private final RemoteTierOptions options;
    private final boolean ownsMemory;
    private final ConcurrentHashMap<Long, Prefetched> prefetched = new ConcurrentHashMap<>();
    private final Set<Long> prefetching = ConcurrentHashMap.newKeySet();
    private final AtomicLong writeSeq = new AtomicLong();
    private final AtomicLong lastMiss = new AtomicLong(-2);
    private final AtomicLong run = new AtomicLong();
    private final LongAdder memoryHits = new LongAdder();
    private final LongAdder prefetchHits = new LongAdder();
    private final LongAdder belowReads = new LongAdder();
    private final LongAdder installs = new LongAdder();
    private final LongAdder writeBacks = new LongAdder();
    private final LongAdder memoryFailures = new LongAdder();
    private final LongAdder prefetchedCount = new LongAdder();

    /**
     * @param below the lower tier (e.g. the local page file), the source of truth for this tier
     * @param memory the memory nodes (usually a {@link ReplicatedPageMemory})
     * @param partition partition of every page this pool holds (page ids are {@code partition | pageNo})
     * @param epoch the owner's current epoch, sent with every write
     * @param ownsMemory whether {@link #close} closes {@code memory}
     */
    public RemoteTier(PageSource below, PageMemory memory, int partition, LongSupplier epoch, RemoteTierOptions options,
            boolean ownsMemory) {
        this.below = below;
        this.memory = memory;
        this.partition = partition;
        this.epoch = epoch;
        this.options = options;
        this.ownsMemory = ownsMemory;
        PageId.of(partition, 0);
    }

    @Override
    public long read(long pageNo, int sizeClass, MemorySegment dst) throws IOException {
        Prefetched p = prefetched.remove(pageNo);
        if (p != null && p.sizeClass == sizeClass) {
            MemorySegment.copy(p.bytes, 0, dst, 0, dst.byteSize());
            prefetchHits.increment();
            noteMiss(pageNo, sizeClass);
            return p.lsn;
        }
        noteMiss(pageNo, sizeClass);
        long pid = PageId.of(partition, pageNo);
        try {
            PageRead r = memory.get(pid, sizeClass, dst).get();
            if (r.found()) {
                memoryHits.increment();
                return r.lsn();
            }
        } catch (ExecutionException | RuntimeException e) {
            memoryFailures.increment();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted reading page " + pageNo + " from memory nodes", e);
        }
        long lsn = below.read(pageNo, sizeClass, dst);
        belowReads.increment();
        if (lsn > 0 && options.installOnMiss()) {
            installs.increment();
            try {
                memory.put(pid, epoch.getAsLong(), lsn, dst).exceptionally(ex -> {
                    memoryFailures.increment();
                    return RemoteStatus.UNAVAILABLE;
                });
            } catch (RuntimeException e) {
                memoryFailures.increment();
            }
        }
        return lsn;
    }

    @Override
    public void write(List<PageWrite> pages) throws IOException {
        below.write(pages);
        writeSeq.incrementAndGet();
        for (PageWrite w : pages) {
            prefetched.remove(w.pageNo());
        }
        long e = epoch.getAsLong();
        List<CompletableFuture<RemoteStatus>> sent = new ArrayList<>(pages.size());
        for (PageWrite w : pages) {
            try {
                sent.add(memory.put(PageId.of(partition, w.pageNo()), e, w.lsn(), w.bytes()));
            } catch (RuntimeException ex) {
                memoryFailures.increment();
            }
        }
        writeBacks.add(pages.size());
        for (CompletableFuture<RemoteStatus> f : sent) {
            try {
                RemoteStatus s = f.join();
                if (s != RemoteStatus.OK && s != RemoteStatus.STALE_LSN) {
                    memoryFailures.increment();
                }
            } catch (CompletionException ex) {
                memoryFailures.increment();
            }
        }
    }

    private void noteMiss(long pageNo, int sizeClass) {
        if (options.prefetchTrigger() == 0) {
            return;
        }
        long prev = lastMiss.getAndSet(pageNo);
        long n;
        if (pageNo == prev + 1) {
            n = run.incrementAndGet();
        } else {
            run.set(0);
            n = 0;
        }
        if (n >= options.prefetchTrigger()) {
            prefetch(pageNo + 1, options.prefetchWindow(), sizeClass);
        }
    }

    /**
     * Reads pages {@code [first, first+count)} of {@code sizeClass} from the memory nodes in one
     * pipelined batch, to serve their coming misses (an index scan's hint). Pages already prefetched or
     * in flight are skipped; best effort.
     */
    public void prefetch(long first, int count, int sizeClass) {
        int bytes = PageSize.bytes(sizeClass);
        long seq = writeSeq.get();
        for (long p = first; p < first + count && p <= PageId.MAX_PAGE_NUMBER; p++) {
            if (prefetched.size() >= options.prefetchCapacity()) {
                prefetched.clear(); // never consumed: the pattern changed; make room for the new one
            }
            if (prefetching.size() >= options.prefetchCapacity()) {
                return;
            }
            if (prefetched.containsKey(p) || !prefetching.add(p)) {
                continue;
            }
            long pageNo = p;
            MemorySegment buf = MemorySegment.ofArray(new byte[bytes]);
            prefetchedCount.increment();
            CompletableFuture<PageRead> f;
            try {
                f = memory.get(PageId.of(partition, pageNo), sizeClass, buf);
            } catch (RuntimeException e) {
                prefetching.remove(pageNo);
                continue;
            }
            f.whenComplete((r, ex) -> {
                if (ex == null && r.found() && writeSeq.get() == seq) {
                    prefetched.put(pageNo, new Prefetched(sizeClass, r.lsn(), buf));
                    if (writeSeq.get() != seq) {
                        prefetched.remove(pageNo);
                    }
                }
                prefetching.remove(pageNo);
            });
        }
    }

    public RemoteTierStats stats() {
        return new RemoteTierStats(memoryHits.sum(), prefetchHits.sum(), belowReads.sum(), installs.sum(),
                writeBacks.sum(), memoryFailures.sum(), prefetchedCount.sum());
    }

    /** The memory nodes hold what they acknowledged; the tier below is synced. */
    @Override
    public void sync() throws IOException {
        below.sync();
    }

    /** Closes the memory-node clients (if owned) and then the lower tier. */
    @Override
    public void close() throws IOException {
        try {
            if (ownsMemory) {
                memory.close();
            }
        } finally {
            below.close();
        }
    }
}
