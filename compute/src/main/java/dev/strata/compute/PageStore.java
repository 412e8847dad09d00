package dev.strata.compute;

import dev.strata.buffer.BufferPool;
import dev.strata.buffer.BufferPoolConfig;
import dev.strata.buffer.OptimisticRead;
import dev.strata.buffer.PageSource;
import dev.strata.memory.ClientOptions;
import dev.strata.memory.RemoteTierOptions;
import dev.strata.memory.RemoteTiers;
import dev.strata.compute.internal.FileTier;
import dev.strata.core.BatchFormat;
import dev.strata.core.ByteSize;
import dev.strata.core.CorruptionException;
import dev.strata.core.Libc;
import dev.strata.core.PageId;
import dev.strata.core.PageSize;
import dev.strata.core.StrataException;
import dev.strata.storage.Checkpoint;
import dev.strata.storage.LogConfig;
import dev.strata.storage.PageFile;
import dev.strata.storage.PartitionLog;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The embedded page store: a buffer pool over a local page file, with every change logged in a
 * write-ahead log (group commit, fsync) before it is acknowledged. Pages survive close, reopen and
 * crashes: on open the store replays the log from the newest checkpoint onto the page file.
 *
 * <pre>{@code
 * try (PageStore store = PageStore.open(dir)) {
 *     long page;
 *     try (WriteBatch batch = store.newBatch()) {
 *         page = batch.allocate(4096);
 *         try (PageHandle h = store.fixExclusive(page)) {
 *             batch.write(h, 0, "hello".getBytes());
 *         }
 *         batch.commit();                       // durable on return
 *     }
 *     try (PageHandle h = store.fixShared(page)) { ... h.segment() ... }
 *     long v = store.readOptimistic(page, seg -> seg.get(JAVA_LONG, 0));
 * }
 * }</pre>
 *
 * Thread-safe. One process may open a directory at a time (a lock file enforces it).
 */
public final class PageStore implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(PageStore.class.getName());
    private static final long CLOSE_WAIT_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final long PINNED_WRITE_BACK_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

    enum Lifecycle { OPEN, CLOSING, CLOSED }

    private final Path dir;
    private final PageStoreConfig config;
    /** Log since the last checkpoint that queues the next ({@link PageStoreConfig#effectiveCheckpointLogBytes}). */
    private final long checkpointLogBytes;
    private volatile RecoveryStats recovery = new RecoveryStats(0, 0, 0);
    private final FileChannel lockChannel;
    private final FileLock dirLock;
    private final PageFile pageFile;
    private final PageSource tier;
    private final BufferPool pool;
    private final MemorySegment readOnlyMemory;
    private final PartitionLog log;
    private final long epoch;
    private final long capacityPages;
    private final AtomicLongArray allocatedBits;
    private final AtomicLong nextPageNo;
    private final ConcurrentHashMap<Long, WriteBatch> owners = new ConcurrentHashMap<>();
    /**
     * Committed allocations whose page may exist only in the log (an allocated page need not be
     * resident, so nothing marks it dirty): a checkpoint makes each resident and dirty so its image
     * (and with it the allocation) reaches the page file before the log record is trimmed.
     */
    private final java.util.concurrent.ConcurrentLinkedQueue<PendingAlloc> pendingAllocs =
            new java.util.concurrent.ConcurrentLinkedQueue<>();

    private record PendingAlloc(long pageNo, long lsn) {}

    /**
     * Committed frees the page file does not record yet. A checkpoint whose LSN covers a free drops the
     * page's frame (no write-back), records the free in the page file, then offers the page number for
     * reuse: an allocation reusing it is logged after that checkpoint, so redo never meets the old
     * page's records and the new page's together.
     */
    private final java.util.concurrent.ConcurrentLinkedQueue<PendingFree> pendingFrees =
            new java.util.concurrent.ConcurrentLinkedQueue<>();

    private record PendingFree(long pageNo, int sizeClass, long lsn) {}

    /** Freed page numbers recorded in the page file, handed out again by {@link #allocateSlot}; per size class. */
    private final List<java.util.concurrent.ConcurrentLinkedQueue<Long>> reusable = java.util.stream.IntStream
            .rangeClosed(0, PageSize.MAX_CLASS).mapToObj(c -> new java.util.concurrent.ConcurrentLinkedQueue<Long>())
            .toList();
    /**
     * Pages the page file recorded freed when the store opened, with their size classes. Redo skips changes to
     * them while they are not allocated: those are the freed page's own, logged before its free, which a crash
     * between recording the free and writing the checkpoint that covers it leaves in the log.
     */
    private final java.util.Map<Long, Integer> freedOnOpen = new java.util.HashMap<>();
    private final ReentrantLock checkpointLock = new ReentrantLock();
    private final ScheduledExecutorService checkpointer;
    private final AtomicBoolean checkpointQueued = new AtomicBoolean();
    private final AtomicLong logBytesSinceCheckpoint = new AtomicLong();
    private final LongAdder active = new LongAdder();
    private final LongAdder commits = new LongAdder();
    private final LongAdder logBytes = new LongAdder();
    /** Allocations a checkpoint found already written back (see materializeAllocations). */
    private final LongAdder materializeSkips = new LongAdder();
    private final AtomicLong inflight = new AtomicLong();
    private final java.util.TreeSet<Long> appliedOutOfOrder = new java.util.TreeSet<>();
    private long appliedLsn;
    private volatile long checkpointLsn;
    private volatile long checkpoints;
    // pages dirty since this LSN or earlier are written back by their next batch before it changes them (0: none)
    private volatile long checkpointFlushLsn;
    private long previousCheckpointApplied; // guarded by checkpointLock
    /** Test hook: runs in {@link #checkpoint} right after the tier's sync. */
    private volatile Runnable afterTierSync = () -> {};
    private volatile Lifecycle lifecycle = Lifecycle.OPEN;
    private final ConcurrentHashMap<Class<?>, Object> attachments = new ConcurrentHashMap<>();
    private volatile Throwable failure;

    private PageStore(Path dir, PageStoreConfig config) throws IOException {
        this.dir = dir;
        this.config = config;
        this.checkpointLogBytes = config.effectiveCheckpointLogBytes();
        BufferPoolConfig poolConfig = BufferPoolConfig.of(config.poolBytes(), config.capacityBytes());
        this.capacityPages = poolConfig.capacityPages();
        Files.createDirectories(dir);
        this.lockChannel = FileChannel.open(dir.resolve("LOCK"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = lockChannel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            lockChannel.close();
            throw new StrataException("store directory " + dir + " is already open (by this or another process)");
        }
        this.dirLock = lock;
        PageFile pf = null;
        BufferPool bp = null;
        PartitionLog pl = null;
        PageSource remote = null;
        try {
            pf = PageFile.open(dir.resolve("pages"), config.compressPages());
            if (capacityPages > pf.slotLimit()) {
                throw new StrataException("page space of " + ByteSize.format(config.capacityBytes()) + " is larger than"
                        + " the page file in " + dir + " can hold on this file system ("
                        + ByteSize.format(pf.slotLimit() * PageSize.BASE) + "); lower strata.store.capacity");
            }
            Checkpoint ckpt = Checkpoint.read(dir).orElse(new Checkpoint(0, 0, 0));
            PageSource tier = new FileTier(pf);
            if (!config.memoryNodes().isEmpty()) {
                long tierEpoch = Math.max(1, ckpt.epoch()); // embedded: the store owns its partition
                tier = RemoteTiers.overTcp(tier, config.memoryNodes(), config.memoryReplicas(), config.partition(),
                        () -> tierEpoch, ClientOptions.defaults().withCallerRunsIo(true),
                        RemoteTierOptions.defaults());
            }
            remote = tier;
            bp = BufferPool.create(poolConfig, tier);
            this.allocatedBits = new AtomicLongArray((int) ((capacityPages + 63) / 64));
            this.nextPageNo = new AtomicLong(ckpt.nextPageNo());
            BufferPool pool0 = bp;
            pf.forEachAllocated(m -> {
                checkFits(m.pageNo(), m.sizeClass());
                pool0.defineSizeClass(m.pageNo(), m.sizeClass());
                setAllocated(m.pageNo(), true);
                nextPageNo.accumulateAndGet(m.pageNo() + PageSize.slots(m.sizeClass()), Math::max);
            });
            pf.forEachFreed(m -> freedOnOpen.put(m.pageNo(), m.sizeClass()));
            pl = PartitionLog.open(dir.resolve("log"), new LogConfig(config.segmentBytes(),
                    (int) Math.min(config.segmentBytes() / 2, 64L << 20)));
            this.pageFile = pf;
            this.tier = remote;
            this.pool = bp;
            this.readOnlyMemory = bp.memory().asReadOnly();
            this.log = pl;
            this.checkpointLsn = ckpt.lsn();
            replay(ckpt.lsn());
            java.util.Set<Long> freeing = new java.util.HashSet<>();
            pendingFrees.forEach(f -> freeing.add(f.pageNo()));
            freedOnOpen.forEach((pageNo, sizeClass) -> {
                if (!allocated(pageNo) && !freeing.contains(pageNo)) {
                    reusable.get(sizeClass).add(pageNo);
                }
            });
            this.appliedLsn = log.durableLsn();
            this.epoch = Math.max(1, Math.max(ckpt.epoch(), log.highestEpoch()));
            if (allocatedCount() == 0) {
                // a new store: its pages are all created in the pool, which faults them in ahead
                if (!config.hugePages() || !bp.adviseHugePages()) {
                    bp.prefaultNewPages();
                }
            }
            bp.startBackgroundEviction("strata-evictor-p" + config.partition());
        } catch (IOException | RuntimeException e) {
            closeQuietly(pl);
            closeQuietly(bp);
            closeQuietly(remote);
            closeQuietly(pf);
            dirLock.release();
            lockChannel.close();
            throw e;
        }
        this.checkpointer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "strata-checkpoint-p" + config.partition());
            t.setDaemon(true);
            return t;
        });
        long every = config.checkpointInterval().toMillis();
        if (every > 0) {
            checkpointer.scheduleWithFixedDelay(this::backgroundCheckpoint, every, every, TimeUnit.MILLISECONDS);
        }
        LOG.log(System.Logger.Level.INFO, "opened page store {0} (partition {1}): {2}; durable LSN {3}, "
                + "checkpoint LSN {4}, {5} pages allocated", dir, config.partition(), config, log.durableLsn(),
                checkpointLsn, allocatedCount());
    }

    /** Opens (creating if absent) the store in {@code dir} with default configuration. */
    public static PageStore open(Path dir) {
        return open(dir, PageStoreConfig.defaults());
    }

    /** Opens (creating if absent) the store in {@code dir}, recovering it from its log. */
    public static PageStore open(Path dir, PageStoreConfig config) {
        try {
            return new PageStore(dir, config);
        } catch (IOException e) {
            throw new UncheckedIOException("opening page store " + dir + ": " + e.getMessage(), e);
        }
    }

    public PageStoreConfig config() {
        return config;
    }

    /** True until {@link #close()} starts. */
    public boolean isOpen() {
        return lifecycle == Lifecycle.OPEN;
    }

    public Path directory() {
        return dir;
    }

    // ------------------------------------------------------------------ pages

    public WriteBatch newBatch() {
        checkUsable();
        return new WriteBatch(this);
    }

    /** Allocates one zeroed page of {@code pageBytes} in a batch of its own; durable on return. */
    public long allocate(int pageBytes) {
        try (WriteBatch b = newBatch()) {
            long id = b.allocate(pageBytes);
            b.commit();
            return id;
        }
    }

    public PageHandle fixShared(long pageId) {
        long pageNo = enter(pageId);
        try {
            return new PageHandle(this, pageId, pool.fixShared(pageNo), active::decrement);
        } catch (RuntimeException e) {
            active.decrement();
            throw e;
        }
    }

    public PageHandle fixExclusive(long pageId) {
        long pageNo = enter(pageId);
        try {
            return new PageHandle(this, pageId, pool.fixExclusive(pageNo), active::decrement);
        } catch (RuntimeException e) {
            active.decrement();
            throw e;
        }
    }

    /**
     * A hint that {@code pageId} will be latched soon: if it is not in the pool, the tier below may
     * start reading it now, so that the miss that follows waits less. Latches nothing.
     */
    public void prefetch(long pageId) {
        long pageNo = enter(pageId);
        try {
            pool.prefetch(pageNo);
        } finally {
            active.decrement();
        }
    }

    /**
     * Whether the store's pages have outgrown its buffer pool: the pool has evicted a page since the
     * store was opened. Cheap (one volatile read); a structure may shape itself for out-of-memory
     * access once this turns true. It never turns false again while the store is open.
     */
    public boolean poolOutgrown() {
        return pool.hasEvicted();
    }

    /** Runs {@code read} under an optimistic latch, re-running it until it saw a consistent page. */
    public <R> R readOptimistic(long pageId, OptimisticRead<R> read) {
        long pageNo = enter(pageId);
        try {
            return pool.readOptimistic(pageNo, read);
        } finally {
            active.decrement();
        }
    }

    /**
     * Low-level optimistic latch for lock coupling across several pages: returns the version word to
     * hand to {@link #validate}, faulting the page in and waiting while it is exclusively latched.
     * Read the page's bytes through {@link #pageMemory()} at {@link #pageOffset(long)} meanwhile;
     * act on them only once {@link #validate} returned true. Must not be called after {@link #close()}.
     */
    public long optimisticVersion(long pageId) {
        checkUsable();
        return pool.optimisticVersion(checkPage(pageId));
    }

    /** True when no writer or eviction changed the page since {@link #optimisticVersion} returned {@code version}. */
    public boolean validate(long pageId, long version) {
        return pool.validate(PageId.pageNumber(pageId), version);
    }

    /**
     * The whole page space, read-only, for zero-allocation optimistic reads: page {@code id} starts at
     * {@link #pageOffset(long)}. Its bytes are meaningful only under a latch or once validated; an
     * evicted page reads as zeros. Valid until the store is closed.
     */
    public MemorySegment pageMemory() {
        return readOnlyMemory;
    }

    /** Offset of page {@code pageId} in {@link #pageMemory()}. */
    public static long pageOffset(long pageId) {
        return BufferPool.offset(PageId.pageNumber(pageId));
    }

    /** The size in bytes of an allocated page. */
    public int pageSize(long pageId) {
        return PageSize.bytes(pool.sizeClass(checkPage(pageId)));
    }

    public boolean isAllocated(long pageId) {
        long pageNo = PageId.pageNumber(pageId);
        return PageId.partition(pageId) == config.partition() && pageNo < capacityPages && allocated(pageNo);
    }

    private long enter(long pageId) {
        active.increment();
        try {
            checkUsable();
            return checkPage(pageId);
        } catch (RuntimeException e) {
            active.decrement();
            throw e;
        }
    }

    private long checkPage(long pageId) {
        int partition = PageId.partition(pageId);
        long pageNo = PageId.pageNumber(pageId);
        if (partition != config.partition()) {
            throw new IllegalArgumentException("page " + PageId.toString(pageId) + " belongs to partition " + partition
                    + "; this store holds partition " + config.partition());
        }
        if (pageNo >= capacityPages || !allocated(pageNo)) {
            throw new IllegalArgumentException("page " + PageId.toString(pageId) + " was never allocated");
        }
        return pageNo;
    }

    private void checkUsable() {
        Throwable f = failure;
        if (f != null) {
            throw new PageStoreClosedException("page store " + dir + " is out of service after a failed log write: "
                    + f.getMessage() + " (close and reopen it to recover)", f);
        }
        if (lifecycle != Lifecycle.OPEN) {
            throw new PageStoreClosedException("page store " + dir + " is closed");
        }
    }

    long pageId(long pageNo) {
        return PageId.of(config.partition(), pageNo);
    }

    // ------------------------------------------------------------------ batches (package-private, for WriteBatch)

    long allocateSlot(int sizeClass, WriteBatch batch) {
        checkUsable();
        Long free = reusable.get(sizeClass).poll();
        if (free != null) {
            long pageNo = free;
            pool.discard(pageNo); // an optimistic reader holding the old id may have faulted the old image in
            pool.defineFreshPage(pageNo, sizeClass);
            setAllocated(pageNo, true);
            owners.put(pageNo, batch);
            return pageNo;
        }
        int slots = PageSize.slots(sizeClass);
        long pageNo = nextPageNo.getAndAdd(slots);
        if (pageNo + slots > capacityPages) {
            nextPageNo.getAndAdd(-slots);
            throw new StrataException("page store " + dir + " is full: its page space of "
                    + ByteSize.format(config.capacityBytes()) + " is used up (raise strata.store.capacity)");
        }
        pool.defineFreshPage(pageNo, sizeClass); // zeros by definition: its first fix reads nothing
        setAllocated(pageNo, true);
        owners.put(pageNo, batch);
        return pageNo;
    }

    /** Checks that {@code pageId} may be freed by {@code batch} and claims it; returns its page number. */
    long claimFree(long pageId, WriteBatch batch) {
        checkUsable();
        long pageNo = checkPage(pageId);
        WriteBatch owner = owners.putIfAbsent(pageNo, batch);
        if (owner != null && owner != batch) {
            throw new IllegalStateException("page " + PageId.toString(pageId)
                    + " has uncommitted changes of another open write batch; commit or close that batch first");
        }
        return pageNo;
    }

    /** Called with the page latched exclusively by the batch's writer. */
    void claimPage(long pageNo, WriteBatch batch) {
        WriteBatch owner = owners.putIfAbsent(pageNo, batch);
        if (owner != null && owner != batch) {
            throw new IllegalStateException("page " + PageId.toString(pageId(pageNo))
                    + " has uncommitted changes of another open write batch; commit or close that batch first");
        }
        long flushUpTo = checkpointFlushLsn;
        if (flushUpTo != 0 && owner == null) {
            // unpinned now, so the page holds only durable changes; written back if a checkpoint waits for it
            pool.writeBackLatchedIfDirtySince(pageNo, flushUpTo);
        }
        pool.pin(pageNo);
    }

    /** {@code waiting}: the caller waits on the future right away, so it commits the log group itself when idle. */
    CompletableFuture<Long> commit(WriteBatch batch, boolean waiting) {
        checkUsable();
        for (long p : batch.pages()) {
            owners.remove(p, batch);
        }
        for (long p : batch.allocated()) {
            owners.remove(p, batch);
        }
        for (long p : batch.freed()) {
            owners.remove(p, batch);
        }
        if (batch.isEmpty()) {
            return CompletableFuture.completedFuture(log.durableLsn());
        }
        int payloadLength = batch.payloadLength();
        MemorySegment payload = batch.payload();
        List<Long> pages = List.copyOf(batch.pages());
        List<Long> allocatedPages = List.copyOf(batch.allocated());
        List<Long> freedPages = List.copyOf(batch.freed());
        inflight.incrementAndGet();
        CompletableFuture<Long> appended;
        try {
            // lent, not copied: the log writes a large payload from the encoder's buffer and then gives it back
            MemorySegment record = payload.asSlice(0, payloadLength);
            Runnable release = () -> BatchFormat.Encoder.recycle(payload);
            appended = waiting ? log.appendLentAndCommit(epoch, record, release)
                    : log.appendLent(epoch, record, release);
        } catch (RuntimeException e) {
            inflight.decrementAndGet();
            fail(e);
            throw e;
        }
        return appended.handle((lsn, err) -> {
            try {
                if (err != null) {
                    fail(err);
                    throw new CompletionException(new PageStoreClosedException("commit failed: " + err.getMessage(), err));
                }
                for (long p : pages) {
                    pool.noteCommitted(p, lsn);
                    pool.unpin(p);
                }
                for (long p : allocatedPages) {
                    pendingAllocs.add(new PendingAlloc(p, lsn));
                }
                for (long p : freedPages) {
                    setAllocated(p, false);
                    pendingFrees.add(new PendingFree(p, pool.sizeClass(p), lsn));
                }
                markApplied(lsn);
                commits.increment();
                logBytes.add(payloadLength);
                if (logBytesSinceCheckpoint.addAndGet(payloadLength) >= checkpointLogBytes
                        && checkpointQueued.compareAndSet(false, true)) {
                    checkpointer.execute(this::backgroundCheckpoint);
                }
                return lsn;
            } finally {
                synchronized (inflight) {
                    inflight.decrementAndGet();
                    inflight.notifyAll();
                }
            }
        });
    }

    long await(CompletableFuture<Long> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StrataException("interrupted while waiting for commit", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause() instanceof CompletionException ce && ce.getCause() != null ? ce.getCause() : e.getCause();
            if (c instanceof RuntimeException re) {
                throw re;
            }
            throw new StrataException("commit failed: " + c.getMessage(), c);
        }
    }

    void abort(WriteBatch batch, java.util.Collection<Long> allocatedPages) {
        if (lifecycle == Lifecycle.CLOSED) {
            return;
        }
        batch.restoreBeforeImages();
        for (long p : batch.pages()) {
            owners.remove(p, batch);
            pool.unpin(p);
        }
        for (long p : allocatedPages) {
            owners.remove(p, batch);
            setAllocated(p, false);
        }
        for (long p : batch.freed()) {
            owners.remove(p, batch);
        }
    }

    void restoreBytes(long pageNo, long offset, MemorySegment bytes) {
        pool.lockExclusive(pageNo);
        try {
            MemorySegment.copy(bytes, 0, pool.page(pageNo), offset, bytes.byteSize());
        } finally {
            pool.unlockExclusive(pageNo);
        }
    }

    private synchronized void markApplied(long lsn) {
        if (lsn == appliedLsn + 1) {
            appliedLsn = lsn;
            while (!appliedOutOfOrder.isEmpty() && appliedOutOfOrder.first() == appliedLsn + 1) {
                appliedLsn = appliedOutOfOrder.pollFirst();
            }
        } else if (lsn > appliedLsn) {
            appliedOutOfOrder.add(lsn);
        }
    }

    private synchronized long appliedLsn() {
        return appliedLsn;
    }

    private void fail(Throwable t) {
        if (failure == null) {
            failure = t;
            LOG.log(System.Logger.Level.ERROR, "page store " + dir + " partition " + config.partition()
                    + ": log write failed, store out of service", t);
        }
    }

    // ------------------------------------------------------------------ recovery and checkpoints

    /**
     * Redo: applies every durable record after {@code afterLsn} whose LSN is newer than the page's.
     * Pages a record touches stay pinned until the whole record is applied, then get its LSN, so a
     * record with several deltas on one page applies all of them and none is evicted half-applied.
     */
    private void replay(long afterLsn) throws IOException {
        long started = System.nanoTime();
        long from = afterLsn;
        long to = log.durableLsn();
        long[] replayed = new long[2]; // records, payload bytes
        long[] nextReport = {started + RECOVERY_REPORT_NANOS};
        java.util.Set<Long> touched = new java.util.LinkedHashSet<>();
        java.util.Set<Long> hinted = new java.util.HashSet<>();
        long[] current = new long[1];
        BatchFormat.Visitor visitor = new BatchFormat.Visitor() {
            @Override
            public void delta(long pageNo, int offset, MemorySegment bytes) {
                applyTo(pageNo, offset + bytes.byteSize(), "writes",
                        page -> MemorySegment.copy(bytes, 0, page, offset, bytes.byteSize()));
            }

            @Override
            public void move(long pageNo, int src, int dst, int length) {
                applyTo(pageNo, Math.max(src, dst) + (long) length, "moves bytes",
                        page -> MemorySegment.copy(page, src, page, dst, length));
            }

            /** Applies a change reaching byte {@code end} of a page, under its latch, if the record is newer. */
            private void applyTo(long pageNo, long end, String what, java.util.function.Consumer<MemorySegment> change) {
                if (pageNo < capacityPages && !allocated(pageNo) && freedOnOpen.containsKey(pageNo)) {
                    return; // the freed page's own change, from before its free (see freedOnOpen)
                }
                if (pageNo >= capacityPages || !allocated(pageNo)) {
                    throw new CorruptionException("log record " + current[0] + " " + what + " in page " + pageNo
                            + " which was never allocated");
                }
                pool.lockExclusive(pageNo);
                try {
                    MemorySegment page = pool.page(pageNo);
                    if (end > page.byteSize()) {
                        throw new CorruptionException("log record " + current[0] + " " + what + " past page " + pageNo);
                    }
                    if (touch(pageNo)) {
                        change.accept(page);
                    }
                } finally {
                    pool.unlockExclusive(pageNo);
                }
            }

            @Override
            public void alloc(long pageNo, int sizeClass) {
                checkFits(pageNo, sizeClass);
                nextPageNo.accumulateAndGet(pageNo + PageSize.slots(sizeClass), Math::max);
                if (!allocated(pageNo)) { // else the page file already holds the page
                    pool.defineSizeClass(pageNo, sizeClass);
                    setAllocated(pageNo, true);
                    pendingAllocs.add(new PendingAlloc(pageNo, current[0]));
                }
            }

            @Override
            public void free(long pageNo) {
                if (pageNo >= capacityPages) {
                    throw new CorruptionException("log record " + current[0] + " frees page " + pageNo
                            + " beyond the page space");
                }
                Integer onDisk = freedOnOpen.get(pageNo);
                setAllocated(pageNo, false);
                pendingFrees.add(new PendingFree(pageNo, onDisk != null ? onDisk : pool.sizeClass(pageNo), current[0]));
            }

            /** Under the page's exclusive latch: true if the current record must be applied to it. */
            private boolean touch(long pageNo) {
                if (touched.contains(pageNo)) {
                    return true;
                }
                if (pool.pageLsn(pageNo) >= current[0]) {
                    return false;
                }
                pool.pin(pageNo);
                touched.add(pageNo);
                return true;
            }
        };
        // a first pass over each record only hints the pages it changes to the tier below, so that their reads
        // run together instead of one after another as the second pass faults them in
        BatchFormat.Visitor prefetcher = new BatchFormat.Visitor() {
            @Override
            public void delta(long pageNo, int offset, MemorySegment bytes) {
                hint(pageNo);
            }

            @Override
            public void move(long pageNo, int src, int dst, int length) {
                hint(pageNo);
            }

            @Override
            public void alloc(long pageNo, int sizeClass) {}

            @Override
            public void free(long pageNo) {}

            private void hint(long pageNo) {
                if (pageNo >= 0 && pageNo < capacityPages && allocated(pageNo) && hinted.add(pageNo)) {
                    pool.prefetch(pageNo);
                }
            }
        };
        log.replay(afterLsn, (lsn, recordEpoch, payload) -> {
            current[0] = lsn;
            try {
                hinted.clear();
                BatchFormat.decode(payload, prefetcher);
                BatchFormat.decode(payload, visitor);
            } finally {
                for (long p : touched) {
                    pool.noteCommitted(p, lsn);
                    pool.unpin(p);
                }
                touched.clear();
            }
            replayed[0]++;
            replayed[1] += payload.byteSize();
            long now = System.nanoTime();
            if (now >= nextReport[0]) {
                nextReport[0] = now + RECOVERY_REPORT_NANOS;
                LOG.log(System.Logger.Level.INFO, String.format(java.util.Locale.ROOT,
                        "recovering page store %s: %,d of %,d log records replayed (%.0f%%), %s, %.1f s", dir,
                        lsn - from, to - from, 100.0 * (lsn - from) / (to - from), ByteSize.format(replayed[1]),
                        (now - started) / 1e9));
            }
        });
        recovery = new RecoveryStats(replayed[0], replayed[1], System.nanoTime() - started);
        if (replayed[0] > 0) {
            LOG.log(System.Logger.Level.INFO, String.format(java.util.Locale.ROOT,
                    "recovered page store %s: replayed %,d log records (%s) after checkpoint LSN %,d in %.1f s", dir,
                    replayed[0], ByteSize.format(replayed[1]), from, recovery.nanos() / 1e9));
        }
    }

    /** How often a long recovery reports its progress. */
    private static final long RECOVERY_REPORT_NANOS = 2_000_000_000L;

    /**
     * What opening this store replayed: the log records after the newest checkpoint, their payload bytes, and
     * the time the replay took (see {@link PageStoreConfig#effectiveCheckpointLogBytes} for what bounds it).
     */
    public record RecoveryStats(long records, long bytes, long nanos) {}

    /** What the redo at open replayed (no records for a store closed cleanly or new). */
    public RecoveryStats recovery() {
        return recovery;
    }

    private void checkFits(long pageNo, int sizeClass) {
        if (pageNo + PageSize.slots(sizeClass) > capacityPages) {
            throw new StrataException("store " + dir + " holds page " + pageNo + " beyond the configured page space of "
                    + ByteSize.format(config.capacityBytes()) + "; open it with a larger strata.store.capacity");
        }
    }

    private void backgroundCheckpoint() {
        checkpointQueued.set(false);
        if (lifecycle != Lifecycle.OPEN || failure != null) {
            return;
        }
        try {
            checkpoint();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "checkpoint of " + dir + " failed; will retry", e);
        }
        // what the C heap's arenas kept after their peak (grown buffers, the JIT's working memory) is then
        // the OS page cache's, which holds the page file's and the log's recent blocks: with the process in a
        // memory limit (6M random inserts, 420 MiB cgroup) resident size fell from ~355-380 to ~320 MB mid-run,
        // the page cache grew from ~60-85 to ~115 MB, and disk reads fell by a third
        Libc.trimNativeHeap();
    }

    /**
     * The flush skips pinned pages (they hold changes of an open batch); a page that one batch after another keeps
     * changing is pinned nearly all the time, and would hold the checkpoint LSN at its first change forever (the log
     * never trimmed). Such a page is written back by its next batch ({@link #claimPage}) once it has been dirty
     * since the previous checkpoint ({@link #checkpointFlushLsn}): pages merely pinned at the moment of a checkpoint
     * are left to the next flush or to eviction, so only pages that stay pinned and dirty for a whole interval cost
     * an extra write (the log keeps up to two intervals). This waits a bounded time for those writes; a page still
     * dirty since {@code flushLsn} afterwards holds back this checkpoint only.
     */
    private void awaitPinnedWriteBacks(long applied) throws IOException {
        long[] waiting = pool.dirtySince(applied); // one pass over the pool; then only these few pages are watched
        long deadline = System.nanoTime() + PINNED_WRITE_BACK_WAIT_NANOS;
        try {
            for (int i = 0; i < waiting.length && System.nanoTime() < deadline; ) {
                long rec = pool.recLsn(waiting[i]);
                if (rec == 0 || rec > applied) {
                    i++; // written back (and maybe changed again since)
                } else {
                    Thread.sleep(1);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for pinned pages to be written back");
        }
    }

    /**
     * Writes every dirty page back to the page file, records the LSN up to which the page file holds
     * every change, and trims the log below it.
     *
     * @return the new checkpoint LSN
     */
    public long checkpoint() {
        if (failure != null) {
            throw new PageStoreClosedException("page store " + dir + " is out of service", failure);
        }
        checkpointLock.lock();
        try {
            long applied = appliedLsn();
            logBytesSinceCheckpoint.set(0);
            List<PendingFree> frees = dropFreed(applied);
            long minPending = materializeAllocations(applied);
            long flushLsn = previousCheckpointApplied;
            previousCheckpointApplied = applied;
            checkpointFlushLsn = flushLsn;
            pool.writeBackDirty();
            if (flushLsn > 0) {
                awaitPinnedWriteBacks(flushLsn);
            }
            // write-backs (these and every eviction's) are durable in the tier only once synced: before the
            // checkpoint record lets redo skip the log below it. The dirty pages are counted before the sync, never
            // after: a page an eviction writes back between the two would count neither as dirty nor as synced
            // (its image pending in the tier), and a crash before the tier's next sync would lose its changes
            // (a writeBack clears recLsn only once the tier accepted the image, so the sync covers every page the
            // count found clean)
            long minDirty = Math.min(pool.minDirtyLsn(), minPending);
            tier.sync();
            afterTierSync.run();
            long lsn = minDirty == Long.MAX_VALUE ? applied : Math.min(applied, minDirty - 1);
            List<PendingFree> covered = new java.util.ArrayList<>(frees.size());
            for (PendingFree f : frees) {
                (lsn > checkpointLsn && f.lsn() <= lsn ? covered : pendingFrees).add(f);
            }
            if (lsn > checkpointLsn) {
                recordFrees(covered); // before the checkpoint that lets redo skip their FREE records
                new Checkpoint(lsn, epoch, nextPageNo.get()).write(dir);
                checkpointLsn = lsn;
                checkpoints++;
                log.trim(lsn);
                for (PendingFree f : covered) {
                    reusable.get(f.sizeClass()).add(f.pageNo());
                }
            }
            return checkpointLsn;
        } catch (IOException e) {
            throw new UncheckedIOException("checkpoint of " + dir + " failed: " + e.getMessage(), e);
        } finally {
            checkpointLock.unlock();
        }
    }

    /**
     * Takes the pending frees committed up to {@code applied} and drops their pages' frames, so that a
     * freed page is neither written back nor holds the checkpoint back.
     */
    private List<PendingFree> dropFreed(long applied) {
        List<PendingFree> taken = new java.util.ArrayList<>();
        for (int n = pendingFrees.size(); n > 0; n--) {
            PendingFree f = pendingFrees.poll();
            if (f == null) {
                break;
            }
            if (f.lsn() > applied) {
                pendingFrees.add(f);
                continue;
            }
            pool.discard(f.pageNo());
            taken.add(f);
        }
        return taken;
    }

    /** Records freed pages in the page file (one sync); a page allocated again meanwhile cannot be among them. */
    private void recordFrees(List<PendingFree> frees) throws IOException {
        long[] pages = new long[frees.size()];
        int[] classes = new int[frees.size()];
        for (int i = 0; i < pages.length; i++) {
            pages[i] = frees.get(i).pageNo();
            classes[i] = frees.get(i).sizeClass();
        }
        pageFile.markFreed(pages, classes);
    }

    /**
     * Makes every allocation committed up to {@code applied} durable in the page file before the log that
     * holds it may go: a page already written back since (and evicted) is there once the checkpoint syncs
     * the tier; any other is made resident and dirty, so that the checkpoint writes it (its zero image, if
     * nothing changed it).
     * Returns the smallest LSN of those left pending.
     */
    private long materializeAllocations(long applied) {
        long minPending = Long.MAX_VALUE;
        List<PendingAlloc> later = new java.util.ArrayList<>();
        for (int n = pendingAllocs.size(); n > 0; n--) {
            PendingAlloc a = pendingAllocs.poll();
            if (a == null) {
                break;
            }
            if (!allocated(a.pageNo())) {
                continue;
            }
            if (a.lsn() > applied) {
                later.add(a);
                minPending = Math.min(minPending, a.lsn());
                continue;
            }
            if (pool.evictedWithImageSince(a.pageNo(), a.lsn())) {
                // written back since its allocation and evicted: the page file has it, allocated; faulting
                // it back in would read it and write it back again (out of memory, most new pages)
                materializeSkips.increment();
                continue;
            }
            pool.lockExclusive(a.pageNo());
            try {
                pool.noteCommitted(a.pageNo(), a.lsn());
            } finally {
                pool.unlockExclusive(a.pageNo());
            }
        }
        pendingAllocs.addAll(later);
        return minPending;
    }

    // ------------------------------------------------------------------ bookkeeping

    private boolean allocated(long pageNo) {
        return (allocatedBits.get((int) (pageNo >>> 6)) & (1L << pageNo)) != 0;
    }

    private void setAllocated(long pageNo, boolean on) {
        int i = (int) (pageNo >>> 6);
        long bit = 1L << pageNo;
        long cur;
        do {
            cur = allocatedBits.get(i);
        } while (!allocatedBits.compareAndSet(i, cur, on ? cur | bit : cur & ~bit));
    }

    private long allocatedCount() {
        long n = 0;
        for (int i = 0; i < allocatedBits.length(); i++) {
            n += Long.bitCount(allocatedBits.get(i));
        }
        return n;
    }

    /** Sets the hook {@link #checkpoint} runs right after the tier's sync (for tests). */
    void afterTierSync(Runnable hook) {
        afterTierSync = hook;
    }

    /** Writes back every dirty, unpinned page now, as an eviction would (for tests). */
    void writeBackDirty() {
        pool.writeBackDirty();
    }

    /** Allocations that checkpoints found already written back, so left unread (for tests). */
    long materializeSkips() {
        return materializeSkips.sum();
    }

    /** The tier under the buffer pool: the local page file, or memory nodes in front of it. */
    public PageSource tier() {
        return tier;
    }

    public PageStoreStats stats() {
        long free = 0;
        for (var q : reusable) {
            free += q.size();
        }
        long[] written = pageFile.bytesWritten();
        return new PageStoreStats(pool.stats(), log.appendedLsn(), log.durableLsn(), checkpointLsn, checkpoints,
                commits.sum(), logBytes.sum(), log.stats().fsyncs(), allocatedCount(), free + pendingFrees.size(),
                nextPageNo.get() * PageSize.BASE, written[0], written[1]);
    }

    /**
     * The object of class {@code type} that a layer built on this store keeps with it (the index layer's
     * open indexes, say), made by {@code create} the first time it is asked for. It lives exactly as long
     * as this store object: state kept here goes with the store, where a static map keyed by the store
     * would keep the store and everything it holds reachable after it was closed.
     *
     * @throws NullPointerException if {@code create} makes {@code null}
     */
    public <T> T attachment(Class<T> type, java.util.function.Supplier<? extends T> create) {
        return type.cast(attachments.computeIfAbsent(type,
                t -> java.util.Objects.requireNonNull(create.get(), "attachment of " + t.getName() + " made null")));
    }

    /**
     * Waits for commits in flight, checkpoints, and releases files and memory. Open batches are
     * dropped (their changes were never logged). Idempotent.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (lifecycle != Lifecycle.OPEN) {
                return;
            }
            lifecycle = Lifecycle.CLOSING;
        }
        StrataException errors = null;
        pool.stopBackgroundEviction();
        checkpointer.shutdown();
        try {
            checkpointer.awaitTermination(30, TimeUnit.SECONDS);
            synchronized (inflight) {
                long deadline = System.nanoTime() + CLOSE_WAIT_NANOS;
                while (inflight.get() > 0 && System.nanoTime() < deadline) {
                    inflight.wait(10);
                }
            }
            long deadline = System.nanoTime() + CLOSE_WAIT_NANOS;
            while (active.sum() > 0 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
                Thread.yield();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (failure == null) {
            try {
                checkpoint();
            } catch (RuntimeException e) {
                errors = new StrataException("final checkpoint of " + dir + " failed", e);
            }
        }
        errors = closeCollecting(log, errors);
        if (active.sum() == 0) {
            errors = closeCollecting(pool, errors);
        } else {
            LOG.log(System.Logger.Level.WARNING, "page store " + dir + " closed with pages still latched; "
                    + "keeping its memory mapped");
        }
        errors = closeCollecting(tier, errors);
        errors = closeCollecting(pageFile, errors);
        try {
            dirLock.release();
            lockChannel.close();
        } catch (IOException e) {
            errors = errors == null ? new StrataException("releasing lock of " + dir, e) : errors;
        }
        lifecycle = Lifecycle.CLOSED;
        if (errors != null) {
            throw errors;
        }
    }

    private static StrataException closeCollecting(AutoCloseable c, StrataException errors) {
        try {
            c.close();
        } catch (Exception e) {
            if (errors == null) {
                errors = new StrataException("closing " + c.getClass().getSimpleName() + " failed", e);
            } else {
                errors.addSuppressed(e);
            }
        }
        return errors;
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c != null) {
            try {
                c.close();
            } catch (Exception ignored) {
                // already failing; the first error is the one reported
            }
        }
    }
}
