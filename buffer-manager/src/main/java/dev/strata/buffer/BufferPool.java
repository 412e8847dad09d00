package dev.strata.buffer;

import static dev.strata.buffer.internal.PageTable.EVICTED;
import static dev.strata.buffer.internal.PageTable.LOCKED;
import static dev.strata.buffer.internal.PageTable.MARKED;
import static dev.strata.buffer.internal.PageTable.MAX_SHARED;
import static dev.strata.buffer.internal.PageTable.UNLOCKED;
import static dev.strata.buffer.internal.PageTable.state;
import static dev.strata.buffer.internal.PageTable.version;
import static dev.strata.buffer.internal.PageTable.word;

import dev.strata.buffer.internal.PageTable;
import dev.strata.buffer.internal.ParkingLot;
import dev.strata.buffer.internal.ResidentSet;
import dev.strata.core.NativeMemory;
import dev.strata.core.PageSize;
import dev.strata.core.StrataException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * A vmcache-style buffer pool: page {@code p} lives at {@code base + p * 4 KiB} of one virtual
 * reservation as large as the page space; physical memory stays within {@code poolBytes} because
 * eviction releases pages with {@code MADV_DONTNEED}. A page of size class {@code c} spans
 * {@code 1 << c} contiguous slots; its latch is the state word of its first slot.
 *
 * <p>Latches: exclusive (writer), shared (readers), optimistic (read, then {@link #validate}).
 * A miss is served by the faulting thread from the {@link PageSource}; when the pool is full the
 * same thread evicts a batch chosen by a clock over the resident set, writing dirty pages back first.
 * Pinned pages (uncommitted changes) and latched pages are never evicted.
 *
 * <p>Thread-safe. Pages are addressed by page number within the pool's page space.
 */
public final class BufferPool implements AutoCloseable {
    private static final int SPIN_LIMIT = 128;
    private static final long EXHAUSTED_AFTER_NANOS = TimeUnit.SECONDS.toNanos(10);
    /** Outcomes of latching a page for a checkpoint's flush. */
    private static final int LATCHED = 0;
    private static final int NOT_RESIDENT = 1;
    private static final int BUSY = 2;

    private final BufferPoolConfig config;
    private final PageSource source;
    private final NativeMemory memory;
    private final MemorySegment mem;
    private final PageTable table;
    private final ResidentSet resident;
    private final ParkingLot lot = new ParkingLot();
    private final AtomicLong residentSlots = new AtomicLong();
    private final long poolSlots;
    private final long exhaustedAfterNanos;
    private final LongAdder hits = new LongAdder();
    private final LongAdder misses = new LongAdder();
    private final LongAdder evictions = new LongAdder();
    private volatile boolean evicted;
    /** Length of the prefix of the reservation advised for huge pages; 0 once the pool has evicted. */
    private volatile long hugeBytes;
    /**
     * Length of the prefix of the reservation the background thread faults in ahead of new pages
     * ({@link #prefaultNewPages}, {@link #adviseHugePages}); 0 when it does not, and once the pool has evicted.
     */
    private volatile long prefaultBytes;
    /**
     * Bounds of how far past the end of the highest fresh page the background thread faults in the new-page
     * prefix ({@link #prefaultAhead}, {@link #prefaultAheadBytes}).
     */
    static final long PREFAULT_AHEAD_MIN_BYTES = 4L << 20;
    static final long PREFAULT_AHEAD_MAX_BYTES = 32L << 20;
    private static final long PREFAULT_STEP_BYTES = 2L << 20;
    /** End (byte offset) of the highest page defined fresh so far. */
    private volatile long freshEnd;
    /** The prefix {@code [0, prefaultedTo)} of the new-page prefix was faulted in ahead of use. */
    private volatile long prefaultedTo;
    private volatile boolean prefaultRefused;
    private final LongAdder writeBacks = new LongAdder();
    private final LongAdder bytesRead = new LongAdder();
    private final LongAdder bytesWritten = new LongAdder();
    private volatile boolean closed;
    private static final System.Logger LOG = System.getLogger(BufferPool.class.getName());
    /** Free 4 KiB slots the background evictor keeps (0: not running). */
    private volatile long headroomSlots;
    private volatile Thread evictor;
    private volatile boolean evictorStop;

    private BufferPool(BufferPoolConfig config, PageSource source, long exhaustedAfterNanos) {
        this.config = config;
        this.source = source;
        this.exhaustedAfterNanos = exhaustedAfterNanos;
        this.poolSlots = config.poolPages();
        this.resident = new ResidentSet(poolSlots); // first: it can refuse the size, before anything is mapped
        this.table = new PageTable(config.capacityPages());
        try {
            this.memory = NativeMemory.reserve(config.capacityBytes());
            // 4 KiB pages unless adviseHugePages asks otherwise, even where the system default is
            // huge pages everywhere: a 2 MiB page faulted in for one 16 KiB page of a pool that holds
            // a fraction of its page space would make the process use far more than the pool
            memory.hugePages(0, config.capacityBytes(), false);
        } catch (RuntimeException e) {
            table.close();
            throw e;
        }
        this.mem = memory.segment();
    }

    public static BufferPool create(BufferPoolConfig config, PageSource source) {
        return new BufferPool(config, source, EXHAUSTED_AFTER_NANOS);
    }

    /**
     * As {@link #create(BufferPoolConfig, PageSource)}, but a miss gives up with {@link PoolExhaustedException}
     * after {@code exhaustedAfter} without an evictable page instead of the default 10 s (tests).
     */
    static BufferPool create(BufferPoolConfig config, PageSource source, Duration exhaustedAfter) {
        if (exhaustedAfter.isNegative() || exhaustedAfter.isZero()) {
            throw new IllegalArgumentException("exhaustion bound must be positive: " + exhaustedAfter);
        }
        return new BufferPool(config, source, exhaustedAfter.toNanos());
    }

    public BufferPoolConfig config() {
        return config;
    }

    /** The whole reservation; page {@code p} starts at {@code p << 12}. For zero-allocation hot paths. */
    public MemorySegment memory() {
        return mem;
    }

    public static long offset(long pageNo) {
        return pageNo << PageSize.BASE_SHIFT;
    }

    /** A view of a page's bytes. Only meaningful under a latch (or validated afterwards). */
    public MemorySegment page(long pageNo) {
        checkPage(pageNo);
        return mem.asSlice(offset(pageNo), PageSize.bytes(table.sizeClass(pageNo)));
    }

    // ------------------------------------------------------------------ page space bookkeeping

    /**
     * Declares the size class of the page starting at {@code pageNo}; the page must not be resident
     * (its memory and the pool's accounting were sized by the old class).
     *
     * @throws IllegalStateException if the page is resident or latched
     */
    public void defineSizeClass(long pageNo, int sizeClass) {
        define(pageNo, sizeClass, false);
    }

    /**
     * As {@link #defineSizeClass}, for a page just allocated: its content is all zeros by definition,
     * so its first fault zero-fills the frame instead of reading the next tier (a pread or, with
     * memory nodes in front, a network round trip, for bytes known to be zero).
     */
    public void defineFreshPage(long pageNo, int sizeClass) {
        define(pageNo, sizeClass, true);
        long end = offset(pageNo) + PageSize.bytes(sizeClass);
        if (end > freshEnd) {
            freshEnd = end; // racy max: a smaller value written last only delays the prefault a little
            if (end + prefaultAheadBytes(end) / 2 > prefaultedTo && prefaultBytes > 0) {
                Thread t = evictor;
                if (t != null) {
                    LockSupport.unpark(t);
                }
            }
        }
    }

    private void define(long pageNo, int sizeClass, boolean fresh) {
        PageSize.checkClass(sizeClass);
        checkPage(pageNo);
        if (pageNo + PageSize.slots(sizeClass) > table.slots()) {
            throw new IllegalArgumentException("page " + pageNo + " of size class " + sizeClass
                    + " runs past the page space of " + table.slots() + " slots");
        }
        // latch the evicted page so no miss loads it with the old class meanwhile
        while (true) {
            long w = table.load(pageNo);
            if (state(w) != EVICTED) {
                throw new IllegalStateException("page " + pageNo + " is resident; its size class cannot change");
            }
            if (table.cas(pageNo, w, word(LOCKED, version(w)))) {
                table.sizeClass(pageNo, sizeClass);
                table.fresh(pageNo, fresh);
                table.store(pageNo, word(EVICTED, version(w) + 1));
                lot.wake(pageNo);
                return;
            }
        }
    }

    /**
     * A hint that {@code pageNo} will be latched soon: if it is neither resident nor fresh, the tier
     * below may start reading it now ({@link PageSource#prefetch}), so that the miss then waits less.
     * Latches nothing and changes no counter.
     */
    public void prefetch(long pageNo) {
        checkPage(pageNo);
        if (PageTable.state(table.load(pageNo)) == PageTable.EVICTED && !table.fresh(pageNo)) {
            source.prefetch(pageNo, table.sizeClass(pageNo));
        }
    }

    /**
     * Drops a page that no longer exists (its owner freed it): a resident copy leaves the pool without
     * being written back, and optimistic readers of it fail validation. Waits while someone else holds
     * it latched; the caller must hold no latch on it.
     *
     * @throws IllegalStateException if the page is pinned (an open batch changed it)
     */
    public void discard(long pageNo) {
        checkPage(pageNo);
        for (int spins = 0; ; spins++) {
            long w = table.load(pageNo);
            int s = state(w);
            if (s == EVICTED) {
                return;
            }
            if (s == UNLOCKED || s == MARKED) {
                if (table.cas(pageNo, w, word(LOCKED, version(w)))) {
                    if (table.pins(pageNo) != 0) {
                        releaseCandidate(pageNo);
                        throw new IllegalStateException("page " + pageNo + " is pinned by an open batch");
                    }
                    table.recLsn(pageNo, 0);
                    evictLocked(pageNo);
                    return;
                }
            } else {
                waitFor(pageNo, w, spins);
            }
        }
    }

    public int sizeClass(long pageNo) {
        checkPage(pageNo);
        return table.sizeClass(pageNo);
    }

    public long pageLsn(long pageNo) {
        checkPage(pageNo);
        return table.pageLsn(pageNo);
    }

    /**
     * True when page {@code pageNo} is evicted and the next tier holds an image of it at LSN {@code lsn} or
     * later: a page leaves the pool only clean, so its last change (or the image it was read with) went to
     * the tier before it did (durably by the tier's next {@link PageSource#sync}). A checkpoint, which syncs
     * the tier, then need not fault it back in to make its allocation at {@code lsn} durable. False for a
     * page defined fresh and never loaded, or resident, or changing state meanwhile. Latches nothing.
     */
    public boolean evictedWithImageSince(long pageNo, long lsn) {
        checkPage(pageNo);
        long w = table.load(pageNo);
        if (state(w) != EVICTED || table.fresh(pageNo)) {
            return false;
        }
        long pageLsn = table.pageLsn(pageNo);
        return pageLsn >= lsn && lsn > 0 && table.load(pageNo) == w; // every transition bumps the version
    }

    /** No-steal: an open batch changed this page; it stays resident and is not written back until unpinned. */
    public void pin(long pageNo) {
        checkPage(pageNo);
        table.addPins(pageNo, 1);
    }

    public void unpin(long pageNo) {
        checkPage(pageNo);
        if (table.addPins(pageNo, -1) < 0) {
            table.addPins(pageNo, 1);
            throw new IllegalStateException("page " + pageNo + " unpinned more often than pinned");
        }
    }

    public int pins(long pageNo) {
        checkPage(pageNo);
        return table.pins(pageNo);
    }

    /** A change to the page became durable in the log at {@code lsn}: the page is dirty from then on. */
    public void noteCommitted(long pageNo, long lsn) {
        checkPage(pageNo);
        table.noteCommitted(pageNo, lsn);
    }

    /** Marks a page dirty without a log (standalone use): it is written back before eviction. */
    public void markDirty(long pageNo) {
        checkPage(pageNo);
        table.noteCommitted(pageNo, Math.max(1, table.pageLsn(pageNo)));
    }

    // ------------------------------------------------------------------ latches

    public PageGuard fixExclusive(long pageNo) {
        lockExclusive(pageNo);
        return new PageGuard(this, pageNo, true);
    }

    public PageGuard fixShared(long pageNo) {
        lockShared(pageNo);
        return new PageGuard(this, pageNo, false);
    }

    /** Runs {@code read} under an optimistic latch until it validates; returns its result. */
    public <R> R readOptimistic(long pageNo, OptimisticRead<R> read) {
        while (true) {
            long v = optimisticVersion(pageNo);
            R result;
            try {
                result = read.read(page(pageNo));
            } catch (RuntimeException | Error e) {
                // a read over changing or zeroed bytes can fail in any way (an assertion, an
                // allocation sized by a garbage length); only a run that validates may report it
                if (validate(pageNo, v)) {
                    throw e;
                }
                continue;
            }
            if (validate(pageNo, v)) {
                return result;
            }
        }
    }

    public void lockExclusive(long pageNo) {
        checkPage(pageNo);
        for (int spins = 0; ; spins++) {
            long w = table.load(pageNo);
            switch (state(w)) {
                case EVICTED -> {
                    if (table.cas(pageNo, w, word(LOCKED, version(w)))) {
                        faultLocked(pageNo, w);
                        return;
                    }
                }
                case UNLOCKED, MARKED -> {
                    if (table.cas(pageNo, w, word(LOCKED, version(w)))) {
                        hits.increment();
                        return;
                    }
                }
                default -> waitFor(pageNo, w, spins);
            }
        }
    }

    public void unlockExclusive(long pageNo) {
        releaseExclusive(pageNo, UNLOCKED);
    }

    /**
     * Releases an exclusive latch and marks the page a first candidate for eviction: the next clock
     * pass over it writes it back (if dirty) and evicts it, unless someone latches it before then.
     * For pages the caller knows will not be wanted again soon (a B-epsilon leaf just merged into
     * is next touched only after every other leaf under its parent), so the clock keeps the pages that are.
     */
    public void unlockExclusiveCold(long pageNo) {
        releaseExclusive(pageNo, MARKED);
    }

    /** Drops an exclusive latch into {@code state} (UNLOCKED, or MARKED for the clock), bumping the version. */
    private void releaseExclusive(long pageNo, int state) {
        checkPage(pageNo);
        long w = table.load(pageNo);
        if (state(w) != LOCKED) {
            throw new IllegalStateException("page " + pageNo + " is not exclusively latched");
        }
        table.store(pageNo, word(state, version(w) + 1));
        lot.wake(pageNo);
    }

    public void lockShared(long pageNo) {
        checkPage(pageNo);
        for (int spins = 0; ; spins++) {
            long w = table.load(pageNo);
            int s = state(w);
            if (s == EVICTED) {
                if (table.cas(pageNo, w, word(LOCKED, version(w)))) {
                    faultLocked(pageNo, w);
                    table.store(pageNo, word(UNLOCKED + 1, version(w) + 1));
                    lot.wake(pageNo);
                    return;
                }
            } else if (s == UNLOCKED || s == MARKED) {
                if (table.cas(pageNo, w, word(UNLOCKED + 1, version(w)))) {
                    hits.increment();
                    return;
                }
            } else if (s < UNLOCKED + MAX_SHARED) {
                if (table.cas(pageNo, w, word(s + 1, version(w)))) {
                    hits.increment();
                    return;
                }
            } else {
                waitFor(pageNo, w, spins);
            }
        }
    }

    public void unlockShared(long pageNo) {
        checkPage(pageNo);
        while (true) {
            long w = table.load(pageNo);
            int s = state(w);
            if (s <= UNLOCKED || s > UNLOCKED + MAX_SHARED) {
                throw new IllegalStateException("page " + pageNo + " is not share-latched");
            }
            int next = s == UNLOCKED + 1 ? UNLOCKED : s - 1;
            if (table.cas(pageNo, w, word(next, version(w)))) {
                if (next == UNLOCKED) {
                    lot.wake(pageNo);
                }
                return;
            }
        }
    }

    /**
     * Starts an optimistic read: faults the page in if needed, waits while it is exclusively latched,
     * and returns the word to hand to {@link #validate}.
     */
    public long optimisticVersion(long pageNo) {
        checkPage(pageNo);
        for (int spins = 0; ; spins++) {
            long w = table.load(pageNo);
            int s = state(w);
            if (s == EVICTED) {
                if (table.cas(pageNo, w, word(LOCKED, version(w)))) {
                    faultLocked(pageNo, w);
                    unlockExclusive(pageNo);
                }
            } else if (s == MARKED) {
                table.cas(pageNo, w, word(UNLOCKED, version(w)));
            } else if (s == LOCKED) {
                waitFor(pageNo, w, spins);
            } else {
                return w;
            }
        }
    }

    /** True when no writer or eviction changed the page since {@link #optimisticVersion} returned {@code w}. */
    public boolean validate(long pageNo, long w) {
        checkPage(pageNo);
        // The optimistic read's plain loads must complete before the word is re-read; a volatile
        // load alone only orders later accesses (StampedLock.validate has the same fence).
        VarHandle.acquireFence();
        long now = table.load(pageNo);
        if (now == w) {
            return true;
        }
        int s = state(now);
        return version(now) == version(w) && s != LOCKED && s != EVICTED;
    }

    private void waitFor(long pageNo, long observed, int spins) {
        if (spins < SPIN_LIMIT) {
            Thread.onSpinWait();
        } else {
            lot.await(pageNo, p -> table.load(p) == observed);
        }
    }

    /**
     * Every entry point checks the page number and that the pool is open: the page table and the
     * pages are raw mappings, so an access out of range or after {@link #close} would read unmapped
     * memory (a JVM crash) instead of throwing.
     */
    private void checkPage(long pageNo) {
        if (pageNo < 0 || pageNo >= table.slots()) {
            throw new IndexOutOfBoundsException("page " + pageNo + " outside the page space [0, " + table.slots() + ")");
        }
        checkOpen();
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("buffer pool is closed");
        }
    }

    // ------------------------------------------------------------------ misses and eviction

    /** Loads a page whose latch the caller moved from EVICTED to LOCKED; on failure restores EVICTED. */
    private void faultLocked(long pageNo, long evictedWord) {
        int sc = table.sizeClass(pageNo);
        int slots = PageSize.slots(sc);
        boolean reserved = false;
        boolean ok = false;
        try {
            // inside the try: eviction can fail (a write-back error) and must not leave this page LOCKED
            reserve(slots, pageNo);
            reserved = true;
            MemorySegment dst = mem.asSlice(offset(pageNo), PageSize.bytes(sc));
            if (table.fresh(pageNo)) { // a miss that reads nothing: counted as a miss, not in bytesRead
                // the frame is zeros already: a page's memory is never touched before its first fault, and
                // every way out of the pool (eviction, discard, an abandoned fault) releases it with
                // MADV_DONTNEED, after which private anonymous memory reads as zeros; filling it again cost a
                // sequential load's writer 3-4% of its samples (pages a split allocates)
                table.pageLsn(pageNo, 0);
                table.fresh(pageNo, false);
                resident.insert(pageNo);
                misses.increment();
            } else {
                if (slots > 1) {
                    // the frame was released (MADV_DONTNEED) or never touched: fault it in with one call instead
                    // of a fault per 4 KiB inside the read's copy (a 64 KiB frame ~26 instead of ~35 us here)
                    memory.populateWrite(offset(pageNo), dst.byteSize());
                }
                long lsn = source.read(pageNo, sc, dst);
                table.pageLsn(pageNo, lsn);
                resident.insert(pageNo);
                misses.increment();
                bytesRead.add(dst.byteSize());
            }
            ok = true;
        } catch (IOException e) {
            throw new StrataException("reading page " + pageNo + " from the next tier failed: " + e.getMessage(), e);
        } finally {
            if (!ok) {
                abandonFault(pageNo, sc, reserved, evictedWord);
            }
        }
    }

    /** Undoes a failed miss: drops what was read, returns the reservation, and restores EVICTED. */
    private void abandonFault(long pageNo, int sizeClass, boolean reserved, long evictedWord) {
        if (reserved) {
            memory.dontNeed(offset(pageNo), PageSize.bytes(sizeClass));
            residentSlots.addAndGet(-PageSize.slots(sizeClass));
        }
        table.store(pageNo, word(EVICTED, version(evictedWord) + 1));
        lot.wake(pageNo);
    }

    private void reserve(int slots, long pageNo) {
        long idleSince = 0;
        while (true) {
            long cur = residentSlots.get();
            if (cur + slots <= poolSlots) {
                if (residentSlots.compareAndSet(cur, cur + slots)) {
                    Thread e = evictor;
                    if (e != null && poolSlots - cur - slots < headroomSlots) {
                        LockSupport.unpark(e);
                    }
                    return;
                }
                continue;
            }
            if (evictRound() > 0) {
                idleSince = 0;
                continue;
            }
            long now = System.nanoTime();
            if (idleSince == 0) {
                idleSince = now;
            } else if (now - idleSince > exhaustedAfterNanos) {
                throw new PoolExhaustedException("buffer pool of " + poolSlots + " pages is full of latched or"
                        + " pinned pages; cannot load page " + pageNo);
            }
            LockSupport.parkNanos(50_000);
        }
    }

    /**
     * Starts a daemon thread that evicts ahead of misses: whenever less than 1/32 of the pool (kept
     * between 256 KiB and 4 MiB) is free, it runs eviction rounds, writing dirty victims back itself. A thread that misses then usually finds room at once
     * instead of waiting for victims' write-backs (and their fsyncs) on its own time; it still evicts
     * itself when the pool is full. Stopped by {@link #stopBackgroundEviction} or {@link #close}.
     *
     * @throws IllegalStateException if already started or the pool is closed
     */
    public synchronized void startBackgroundEviction(String threadName) {
        checkOpen();
        if (evictor != null) {
            throw new IllegalStateException("background eviction already started");
        }
        headroomSlots = Math.max(64, Math.min(1024, poolSlots / 32));
        evictorStop = false;
        Thread t = new Thread(this::evictAhead, threadName);
        t.setDaemon(true);
        evictor = t;
        t.start();
    }

    /** Stops the background evictor, waiting for a round in progress. Idempotent. */
    public void stopBackgroundEviction() {
        Thread t;
        synchronized (this) {
            t = evictor;
            if (t == null) {
                return;
            }
            evictorStop = true;
            evictor = null;
            headroomSlots = 0;
        }
        LockSupport.unpark(t);
        boolean interrupted = false;
        while (true) {
            try {
                t.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void evictAhead() {
        long idleNanos = 1_000_000;
        while (!evictorStop) {
            if (poolSlots - residentSlots.get() >= headroomSlots) {
                if (!prefaultAhead()) {
                    // woken by reserve when the free space runs low, or by a fresh page near the prefaulted end
                    LockSupport.parkNanos(this, 1_000_000_000L);
                }
                continue;
            }
            try {
                if (evictRound() > 0) {
                    idleNanos = 1_000_000;
                    continue;
                }
            } catch (RuntimeException e) {
                // a failing write-back: the next miss runs into it and reports it to its caller
                LOG.log(System.Logger.Level.WARNING, "background eviction failed: " + e.getMessage());
                idleNanos = 100_000_000;
            }
            // nothing evictable (pinned or latched pages): back off instead of rescanning the clock
            LockSupport.parkNanos(this, idleNanos);
            idleNanos = Math.min(idleNanos * 2, 100_000_000);
        }
    }

    /**
     * How far past {@code freshEnd} (the end of the highest fresh page) {@link #prefaultAhead} faults in: a
     * sixteenth of what the pool's new pages span so far, in 2 MiB steps, from 4 MiB up to 32 MiB. What is
     * faulted in past the last new page of a load is zeroed for nothing (on this VM ~1.7 ms of a core per
     * 2 MiB huge page the host took back); a fixed 32 MiB added a quarter to a 1M-key sequential load's 128 MiB
     * of pages. The distance grows with the load, so the writer still rarely catches up with the zeroing.
     */
    static long prefaultAheadBytes(long freshEnd) {
        long ahead = (freshEnd / 16 + PREFAULT_STEP_BYTES - 1) / PREFAULT_STEP_BYTES * PREFAULT_STEP_BYTES;
        return Math.clamp(ahead, PREFAULT_AHEAD_MIN_BYTES, PREFAULT_AHEAD_MAX_BYTES);
    }

    /**
     * Faults in the next 2 MiB of the new-page prefix if the fresh pages come within
     * {@link #prefaultAheadBytes} of it ({@code MADV_POPULATE_WRITE}); returns whether it did. A pool
     * filling with new pages otherwise takes a page fault (and the zeroing of a page) inside the first write
     * to each, on the writer's time; with huge pages, on a VM that gives free memory back to its host, that is
     * a host fault per 4 KiB, at ~1.2 GB/s (in-memory sequential load: 160-300 ms of a writer's 420 ms). This
     * thread does it ahead while the pool still has room, within the prefix the pool will fill anyway (never
     * past {@code poolBytes}), and stops at the first eviction.
     */
    private boolean prefaultAhead() {
        long fresh = freshEnd;
        long limit = Math.min(prefaultBytes, fresh + prefaultAheadBytes(fresh));
        long from = prefaultedTo;
        if (fresh == 0 || from >= limit || prefaultRefused) { // nothing before the first new page
            return false;
        }
        long len = Math.min(PREFAULT_STEP_BYTES, limit - from);
        if (!memory.populateWrite(from, len)) {
            prefaultRefused = true; // no MADV_POPULATE_WRITE here, or no memory now: writes fault as before
            return false;
        }
        prefaultedTo = from + len;
        return true;
    }

    /** Bytes of the new-page prefix faulted in ahead of the fresh pages so far (for tests). */
    long prefaultedBytes() {
        return prefaultedTo;
    }

    /** One clock round: marks cold pages, writes back and evicts up to a batch of marked ones. */
    int evictRound() {
        int batch = config.evictionBatch();
        List<Long> clean = new ArrayList<>(batch);
        List<Long> dirty = new ArrayList<>(batch);
        int scanned = 0;
        int limit = resident.capacity() * 2;
        while (clean.size() + dirty.size() < batch && scanned < limit) {
            resident.clockBatch(64, p -> considerForEviction(p, clean, dirty));
            scanned += 64;
        }
        if (!dirty.isEmpty()) {
            writeBackCandidates(dirty, clean);
        }
        evictAllLocked(clean);
        evictions.add(clean.size());
        if (!clean.isEmpty() && !evicted) {
            evicted = true;
            prefaultBytes = 0;
            long huge = hugeBytes;
            if (huge > 0) {
                hugeBytes = 0;
                memory.hugePages(0, huge, false);
            }
        }
        return clean.size();
    }

    /**
     * Writes back the share-latched dirty candidates, then moves those still unshared, unpinned and
     * clean to {@code clean} (exclusively latched). On failure the clean candidates are released too.
     */
    private void writeBackCandidates(List<Long> dirty, List<Long> clean) {
        boolean written = false;
        try {
            writeBackShared(dirty);
            written = true;
        } finally {
            if (!written) {
                for (long p : clean) {
                    releaseCandidate(p);
                }
            }
        }
        for (long p : dirty) {
            long w = table.load(p);
            if (state(w) == UNLOCKED + 1 && table.pins(p) == 0 && table.recLsn(p) == 0
                    && table.cas(p, w, word(LOCKED, version(w)))) {
                clean.add(p);
            } else {
                unlockShared(p);
            }
        }
    }

    /** Gives back an exclusively latched candidate unchanged (same version: nothing was modified). */
    private void releaseCandidate(long p) {
        long w = table.load(p);
        table.store(p, word(UNLOCKED, version(w)));
        lot.wake(p);
    }

    /** Evicts a clean page the caller latched exclusively. */
    private void evictLocked(long p) {
        memory.dontNeed(offset(p), PageSize.bytes(table.sizeClass(p)));
        evicted(p);
    }

    /**
     * Evicts clean pages the caller latched exclusively, their memory released in one call: with
     * {@code process_madvise} the kernel interrupts the other cores for a TLB flush once per batch
     * instead of once per page (6M random inserts with the pool at 1/8 of the data: 112k TLB shootdowns
     * -> 3.5k, the process's kernel CPU -14%, where one madvise per page had been 7% of its samples).
     */
    private void evictAllLocked(List<Long> pages) {
        int n = pages.size();
        long[] offsets = new long[n];
        long[] lengths = new long[n];
        for (int i = 0; i < n; i++) {
            long p = pages.get(i);
            offsets[i] = offset(p);
            lengths[i] = PageSize.bytes(table.sizeClass(p));
        }
        memory.dontNeed(offsets, lengths, n);
        for (long p : pages) {
            evicted(p);
        }
    }

    /** Books a latched page whose memory was released as evicted, and wakes its waiters. */
    private void evicted(long p) {
        long w = table.load(p);
        int bytes = PageSize.bytes(table.sizeClass(p));
        resident.remove(p);
        residentSlots.addAndGet(-(bytes >>> PageSize.BASE_SHIFT));
        table.store(p, word(EVICTED, version(w) + 1));
        lot.wake(p);
    }

    private void considerForEviction(long p, List<Long> clean, List<Long> dirty) {
        long w = table.load(p);
        int s = state(w);
        if (s == UNLOCKED) {
            table.cas(p, w, word(MARKED, version(w)));
        } else if (s == MARKED && table.pins(p) == 0) {
            if (table.recLsn(p) != 0) {
                if (table.cas(p, w, word(UNLOCKED + 1, version(w)))) {
                    if (table.pins(p) == 0) {
                        dirty.add(p);
                    } else {
                        unlockShared(p);
                    }
                }
            } else if (table.cas(p, w, word(LOCKED, version(w)))) {
                if (table.pins(p) == 0 && table.recLsn(p) == 0) {
                    clean.add(p);
                } else {
                    releaseCandidate(p);
                }
            }
        }
    }

    /**
     * Writes back a page the caller holds exclusively latched if it is unpinned and dirty since an LSN at or below
     * {@code lsn} (it stays resident and latched). For a page that is hardly ever unpinned (a B-tree root changed by
     * batch after batch), which the checkpoint's own flush therefore cannot write back: its next writer does it
     * before pinning it again, so the checkpoint LSN can move past the page's first change.
     *
     * @return whether the page was written
     * @throws IllegalStateException if the page is not exclusively latched
     */
    public boolean writeBackLatchedIfDirtySince(long pageNo, long lsn) {
        checkPage(pageNo);
        if (state(table.load(pageNo)) != LOCKED) {
            throw new IllegalStateException("page " + pageNo + " is not exclusively latched");
        }
        long rec = table.recLsn(pageNo);
        if (rec == 0 || rec > lsn || table.pins(pageNo) != 0) {
            return false;
        }
        writeBack(List.of(pageNo));
        return true;
    }

    /** Writes back pages the caller share-latched and found unpinned; clears their recLsn. */
    private void writeBackShared(List<Long> pages) {
        boolean written = false;
        try {
            writeBack(pages);
            written = true;
        } finally {
            if (!written) { // any failure, checked or not, releases the latches
                unlockAllShared(pages);
            }
        }
    }

    /** Writes back latched, unpinned pages; clears their recLsn. */
    private void writeBack(List<Long> pages) {
        List<PageWrite> writes = new ArrayList<>(pages.size());
        long bytes = 0;
        for (long p : pages) {
            int sc = table.sizeClass(p);
            writes.add(new PageWrite(p, sc, table.pageLsn(p), mem.asSlice(offset(p), PageSize.bytes(sc))));
            bytes += PageSize.bytes(sc);
        }
        try {
            source.write(writes);
        } catch (IOException e) {
            throw new StrataException("writing back " + pages.size() + " pages failed: " + e.getMessage(), e);
        }
        for (long p : pages) {
            table.recLsn(p, 0);
        }
        writeBacks.add(pages.size());
        bytesWritten.add(bytes);
    }

    private void unlockAllShared(List<Long> pages) {
        for (long p : pages) {
            unlockShared(p);
        }
    }

    /**
     * Writes back every dirty, unpinned resident page (a checkpoint's flush); pages stay resident.
     * Pages are share-latched in batches; a page that cannot be latched at once is waited for only
     * after the batch so far is written and released, so the flush never holds a latch while waiting
     * for another (a thread holding that page and asking for one of the batch would deadlock).
     *
     * @return the number of pages written
     */
    public int writeBackDirty() {
        checkOpen();
        List<Long> candidates = new ArrayList<>();
        resident.forEach(p -> {
            if (table.recLsn(p) != 0 && table.pins(p) == 0) {
                candidates.add(p);
            }
        });
        int written = 0;
        int batch = Math.max(64, config.evictionBatch());
        List<Long> chunk = new ArrayList<>(batch);
        for (long p : candidates) {
            int latched = tryLockSharedResident(p);
            if (latched == BUSY) {
                written += flushChunk(chunk);
                latched = lockSharedResident(p);
            }
            if (latched != LATCHED) {
                continue;
            }
            if (table.recLsn(p) != 0 && table.pins(p) == 0) {
                chunk.add(p);
                if (chunk.size() >= batch) {
                    written += flushChunk(chunk);
                }
            } else {
                unlockShared(p);
            }
        }
        return written + flushChunk(chunk);
    }

    /** Writes back and releases share-latched pages; empties the list. */
    private int flushChunk(List<Long> chunk) {
        if (chunk.isEmpty()) {
            return 0;
        }
        int n = chunk.size();
        try {
            writeBackShared(chunk);
            unlockAllShared(chunk);
        } finally {
            chunk.clear();
        }
        return n;
    }

    /** Share-latches a resident page without waiting: LATCHED, NOT_RESIDENT, or BUSY (exclusively latched). */
    private int tryLockSharedResident(long p) {
        while (true) {
            long w = table.load(p);
            int s = state(w);
            if (s == EVICTED) {
                return NOT_RESIDENT;
            } else if (s == UNLOCKED || s == MARKED) {
                if (table.cas(p, w, word(UNLOCKED + 1, version(w)))) {
                    return LATCHED;
                }
            } else if (s < UNLOCKED + MAX_SHARED) {
                if (table.cas(p, w, word(s + 1, version(w)))) {
                    return LATCHED;
                }
            } else {
                return BUSY;
            }
        }
    }

    /** Share-latches a resident page, waiting while it is exclusively latched: LATCHED or NOT_RESIDENT. */
    private int lockSharedResident(long p) {
        for (int spins = 0; ; spins++) {
            long w = table.load(p);
            int r = tryLockSharedResident(p);
            if (r != BUSY) {
                return r;
            }
            waitFor(p, w, spins);
        }
    }

    /** Resident pages dirty since {@code lsn} or earlier (recLsn in 1..lsn), e.g. those a flush skipped as pinned. */
    public long[] dirtySince(long lsn) {
        checkOpen();
        List<Long> pages = new ArrayList<>();
        resident.forEach(p -> {
            long r = table.recLsn(p);
            if (r != 0 && r <= lsn) {
                pages.add(p);
            }
        });
        return pages.stream().mapToLong(Long::longValue).toArray();
    }

    /** The LSN of the first change to the page not yet written back; 0 when clean (or not resident). */
    public long recLsn(long pageNo) {
        checkPage(pageNo);
        return table.recLsn(pageNo);
    }

    /** The smallest recLsn of any dirty page, or {@code Long.MAX_VALUE} when every page is clean. */
    public long minDirtyLsn() {
        checkOpen();
        long[] min = {Long.MAX_VALUE};
        resident.forEach(p -> {
            long r = table.recLsn(p);
            if (r != 0 && r < min[0]) {
                min[0] = r;
            }
        });
        return min[0];
    }

    /** Pages with committed changes not yet written back. */
    public long dirtyPages() {
        checkOpen();
        long[] n = {0};
        resident.forEach(p -> {
            if (table.recLsn(p) != 0) {
                n[0]++;
            }
        });
        return n[0];
    }

    /**
     * Asks for transparent huge pages (2 MiB) over the first {@code poolBytes} of the reservation,
     * until the pool first evicts: fewer page faults when pages are first written, and far fewer TLB
     * misses on reads (in-memory index A/B: point reads +10% to +26%, sequential loads +35% to +50%;
     * a fragmented machine may stall a first touch while the kernel compacts memory for a huge page,
     * as with any {@code MADV_HUGEPAGE} memory). Only for a pool whose pages
     * are all being created from scratch (an empty store): every page in that prefix is then
     * faulted in by the pool, so its 2 MiB pages hold little the pool does not count, and the process
     * stays within the pool's size. A page space that outgrows the pool gets 4 KiB pages from the
     * first eviction on ({@code MADV_NOHUGEPAGE}; evictions split the huge pages they free parts
     * of). Faults the prefix in ahead of the new pages as {@link #prefaultNewPages} does. A page store
     * asks for it only when configured to ({@code strata.store.huge-pages}): on a VM that takes free memory
     * back, faulting huge pages in costs a sequential load more than the reads gain. A hint: false where
     * the kernel lacks transparent huge pages, or after an eviction.
     */
    public boolean adviseHugePages() {
        checkOpen();
        long bytes = config.poolBytes() & -(2L << 20);
        if (evicted || bytes == 0 || !memory.hugePages(0, bytes, true)) {
            return false;
        }
        hugeBytes = bytes;
        if (!prefaultNewPages()) { // an eviction raced this call: take the advice back
            hugeBytes = 0;
            memory.hugePages(0, bytes, false);
            return false;
        }
        return true;
    }

    /**
     * Has the background evictor fault in the pool-sized prefix of the reservation ahead of the new pages
     * ({@link #prefaultAhead}), on 4 KiB pages, until the pool first evicts; {@link #adviseHugePages} does
     * the same on huge pages. Only for a pool whose pages are all being created from scratch (an empty
     * store), so the prefix holds nothing the pool does not count. The faults and the zeroing then run on
     * the evictor's thread, idle until the pool is full, instead of inside the writers' first writes. On
     * this VM, 4 KiB pages come from memory the kernel freed recently, while each 2 MiB page is carved from
     * free memory it gave back to the host: the evictor spent 31-33 ms of a 1M-key sequential load instead of
     * 167-249 ms, and the load ran 5.7-7.0M instead of 3.5-4.5M inserts/s; point reads ran 2-16% slower
     * (index/BENCHMARKS.md, twentieth session). Returns false, doing nothing, once the pool has evicted.
     */
    public boolean prefaultNewPages() {
        checkOpen();
        long bytes = config.poolBytes() & -(2L << 20);
        if (evicted || bytes == 0) {
            return false;
        }
        prefaultBytes = bytes;
        if (evicted) { // an eviction raced this call
            prefaultBytes = 0;
            return false;
        }
        return true;
    }

    /** Whether this pool has evicted a page since it was opened: its pages no longer all fit. Cheap. */
    public boolean hasEvicted() {
        return evicted;
    }

    public long residentBytes() {
        return residentSlots.get() << PageSize.BASE_SHIFT;
    }

    public PoolStats stats() {
        checkOpen();
        return new PoolStats(hits.sum(), misses.sum(), evictions.sum(), writeBacks.sum(), bytesRead.sum(),
                bytesWritten.sum(), residentBytes(), config.poolBytes(), dirtyPages());
    }

    /**
     * Releases the reservation. Dirty pages are not written back: flush first if they matter. Every
     * user must have finished: later calls throw {@link IllegalStateException}, but a call racing
     * with close may still touch the unmapped memory.
     */
    @Override
    public void close() {
        stopBackgroundEviction(); // first: it must not touch the memory unmapped below
        closeMemory();
    }

    private synchronized void closeMemory() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            memory.close();
        } finally {
            table.close();
        }
    }
}
