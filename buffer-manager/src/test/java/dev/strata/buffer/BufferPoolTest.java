package dev.strata.buffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.core.PageSize;
import dev.strata.core.StrataException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class BufferPoolTest {
    static final long POOL = 4L << 20; // the minimum: 16 pages of 256 KiB = 1024 slots
    static final long SPACE = 32L << 20; // 8192 slots
    static final long POOL_PAGES = POOL / PageSize.BASE;
    static final long SCRATCH = 4096; // [SCRATCH, SCRATCH + 3 * POOL_PAGES) is touched to push pages out

    final MemoryPageSource src = new MemoryPageSource();
    final List<BufferPool> pools = new ArrayList<>();

    BufferPool newPool() {
        return track(BufferPool.create(BufferPoolConfig.of(POOL, SPACE), src));
    }

    BufferPool track(BufferPool pool) {
        pools.add(pool);
        return pool;
    }

    /** Closes every pool, unless a failed test left a thread stuck in one (then closing would crash the JVM). */
    @AfterEach
    void closePools() {
        if (!Deadline.anyHung()) {
            pools.forEach(BufferPool::close);
        }
    }

    static void fillPattern(MemorySegment seg, long seed) {
        for (long off = 0; off < seg.byteSize(); off += 8) {
            seg.set(ValueLayout.JAVA_LONG, off, seed * 1_000_003L + off);
        }
    }

    static void assertPattern(MemorySegment seg, long seed) {
        for (long off = 0; off < seg.byteSize(); off += 8) {
            long got = seg.get(ValueLayout.JAVA_LONG, off);
            if (got != seed * 1_000_003L + off) {
                throw new AssertionError("page seeded " + seed + " differs at byte " + off + ": " + got);
            }
        }
    }

    /** Touches three pools' worth of never-written pages so every unlatched, unpinned page is evicted. */
    static void pushEverythingOut(BufferPool pool) {
        for (long p = SCRATCH; p < SCRATCH + 3 * POOL_PAGES; p++) {
            try (var g = pool.fixShared(p)) {
                assertEquals(0L, g.segment().get(ValueLayout.JAVA_LONG, 0));
            }
        }
    }

    /** True when fixing the page had to read it from the source, i.e. it had been evicted. */
    boolean faultsOnFix(BufferPool pool, long pageNo) {
        long before = src.reads.get();
        pool.fixShared(pageNo).close();
        return src.reads.get() > before;
    }

    void writePage(BufferPool pool, long pageNo, long seed, boolean dirty) {
        try (var g = pool.fixExclusive(pageNo)) {
            fillPattern(g.segment(), seed);
            if (dirty) {
                pool.markDirty(pageNo);
            }
        }
    }

    @Test
    void pagesReleasedColdAreEvictedFirstAndDirtyOnesWrittenBack() {
        var pool = newPool();
        int cold = 128;
        for (long p = 0; p < POOL_PAGES; p++) { // fill the pool exactly, then make every page clean
            writePage(pool, p, p + 11, true);
        }
        pool.writeBackDirty();
        for (long p = 0; p < cold; p++) { // change every other one of the first pages, release all of them cold
            var g = pool.fixExclusive(p);
            if (p % 2 == 0) {
                fillPattern(g.segment(), p + 13);
                pool.markDirty(p);
            }
            g.closeCold();
            assertTrue(g.isReleased());
        }
        long readsBefore = src.reads.get();
        for (long p = SCRATCH; p < SCRATCH + 64; p++) { // 64 misses: one eviction round of 64 pages
            pool.fixShared(p).close();
        }
        assertEquals(readsBefore + 64, src.reads.get());
        for (long p = cold; p < POOL_PAGES; p++) {
            assertFalse(faultsOnFix(pool, p), "page " + p + " was not released cold but was evicted");
        }
        int faulted = 0;
        for (long p = 0; p < cold; p++) {
            long before = src.reads.get();
            try (var g = pool.fixShared(p)) {
                assertPattern(g.segment(), p % 2 == 0 ? p + 13 : p + 11);
            }
            faulted += (int) (src.reads.get() - before);
        }
        assertTrue(faulted >= 64, "the 64 evictions must have taken pages released cold: " + faulted);
        // a page released cold is an ordinary page once latched again
        try (var g = pool.fixExclusive(0)) {
            assertPattern(g.segment(), 13);
        }
        assertThrows(IllegalStateException.class, () -> pool.unlockExclusiveCold(1));
    }

    @Test
    void aFreshPageIsZeroFilledWithoutAReadThenReadLikeAnyOther() {
        var pool = newPool();
        long page = 64;
        writePage(pool, page, 5, true); // the next tier holds old bytes for this page number
        pushEverythingOut(pool);
        pool.defineFreshPage(page, 2); // allocated anew, 16 KiB
        long reads = src.reads.get();
        PoolStats before = pool.stats();
        try (var g = pool.fixExclusive(page)) {
            assertEquals(16384, g.segment().byteSize());
            assertEquals(-1, g.segment().asByteBuffer().mismatch(java.nio.ByteBuffer.allocate(16384)),
                    "a fresh page reads as zeros, whatever the next tier holds");
            fillPattern(g.segment(), 9);
            pool.markDirty(page);
        }
        assertEquals(reads, src.reads.get(), "the first fault of a fresh page reads nothing");
        assertEquals(before.misses() + 1, pool.stats().misses(), "still a miss: the page was not resident");
        assertEquals(before.bytesRead(), pool.stats().bytesRead());
        pushEverythingOut(pool); // written back and evicted: the next fault reads it again
        reads = src.reads.get();
        try (var g = pool.fixShared(page)) {
            assertPattern(g.segment(), 9);
        }
        assertEquals(reads + 1, src.reads.get());
        pool.defineSizeClass(page + 8, 0); // an ordinary definition reads as before
        pool.fixShared(page + 8).close();
        assertEquals(reads + 2, src.reads.get());
    }

    @Test
    void roundTripsPagesThroughEvictionAndReload() {
        var pool = newPool();
        long n = 2 * POOL_PAGES;
        writePage(pool, 0, 7, true);
        assertFalse(pool.hasEvicted(), "nothing evicted yet");
        for (long p = 1; p < n; p++) {
            writePage(pool, p, p + 7, true);
        }
        assertTrue(pool.stats().evictions() > 0, "writing two pools' worth of pages must evict");
        assertTrue(pool.hasEvicted());
        assertTrue(src.writes.get() >= n - POOL_PAGES, "evicted dirty pages are written back: " + src.writes);
        for (long p = 0; p < n; p++) {
            try (var g = pool.fixShared(p)) {
                assertPattern(g.segment(), p + 7);
            }
        }
        for (long p = 0; p < n; p += 97) {
            final long page = p;
            assertEquals(p + 7 + 0L, pool.readOptimistic(p, seg -> seg.get(ValueLayout.JAVA_LONG, 0)) / 1_000_003L,
                    () -> "optimistic read of page " + page);
        }
        assertTrue(pool.residentBytes() <= POOL, "resident " + pool.residentBytes());
        PoolStats s = pool.stats();
        assertTrue(s.misses() >= n && s.bytesRead() >= n * PageSize.BASE, s.toString());
    }

    @Test
    void pagesOfEverySizeClassAreContiguousAndSurviveEviction() {
        var pool = newPool();
        long[] pageNos = new long[PageSize.MAX_CLASS + 1];
        for (int c = 0; c <= PageSize.MAX_CLASS; c++) {
            pageNos[c] = 64L * c; // 256 KiB-aligned starts, no overlap
            pool.defineSizeClass(pageNos[c], c);
            assertEquals(c, pool.sizeClass(pageNos[c]));
        }
        for (int c = 0; c <= PageSize.MAX_CLASS; c++) {
            long p = pageNos[c];
            try (var g = pool.fixExclusive(p)) {
                MemorySegment seg = g.segment();
                assertEquals(PageSize.bytes(c), seg.byteSize());
                assertEquals(pool.memory().address() + BufferPool.offset(p), seg.address(),
                        "page p lives at base + p * 4 KiB");
                fillPattern(seg, 100 + c);
                pool.markDirty(p);
            }
        }
        pushEverythingOut(pool);
        for (int c = 0; c <= PageSize.MAX_CLASS; c++) {
            long p = pageNos[c];
            assertEquals(PageSize.bytes(c), src.images.get(p).bytes().length, "written back whole, class " + c);
            assertTrue(faultsOnFix(pool, p), "class " + c + " page was evicted");
            try (var g = pool.fixShared(p)) {
                assertEquals(PageSize.bytes(c), g.segment().byteSize());
                assertPattern(g.segment(), 100 + c);
            }
        }
        assertTrue(pool.residentBytes() <= POOL);
    }

    @Test
    void largePagesKeepResidentBytesWithinThePool() {
        var pool = newPool();
        // 64 pages of 256 KiB = 16 MiB through a 4 MiB pool
        for (long k = 0; k < 64; k++) {
            long p = 64 * k;
            pool.defineSizeClass(p, PageSize.MAX_CLASS);
            writePage(pool, p, k, true);
            assertTrue(pool.residentBytes() <= POOL, "resident " + pool.residentBytes());
        }
        for (long k = 0; k < 64; k++) {
            try (var g = pool.fixShared(64 * k)) {
                assertPattern(g.segment(), k);
            }
        }
    }

    @Test
    void writesBackDirtyPagesBeforeEvictionAndNeverCleanOnes() {
        var pool = newPool();
        long dirty = 10;
        long committed = 11;
        long clean = 12;
        writePage(pool, dirty, 1, true);
        pool.pin(committed);
        try (var g = pool.fixExclusive(committed)) {
            fillPattern(g.segment(), 2);
        }
        pool.noteCommitted(committed, 42);
        pool.unpin(committed);
        try (var g = pool.fixShared(clean)) {
            assertEquals(0L, g.segment().get(ValueLayout.JAVA_LONG, 0));
        }
        assertEquals(2, pool.dirtyPages());
        assertEquals(0, src.writes.get(), "nothing is written before eviction");

        pushEverythingOut(pool);

        assertEquals(1, src.writesOf(dirty));
        assertEquals(1, src.writesOf(committed));
        assertEquals(42, src.images.get(committed).lsn(), "the image carries the page LSN");
        assertEquals(0, src.writesOf(clean), "a clean page is dropped, not written");
        assertEquals(0, src.writes.get() - 2, "no other page was written back");
        assertTrue(faultsOnFix(pool, clean));
        assertTrue(faultsOnFix(pool, dirty));
        try (var g = pool.fixShared(dirty)) {
            assertPattern(g.segment(), 1);
        }
        try (var g = pool.fixShared(committed)) {
            assertPattern(g.segment(), 2);
        }
        assertEquals(42, pool.pageLsn(committed), "the LSN comes back with the page");
        assertEquals(0, pool.dirtyPages());
    }

    @Test
    void pinnedPagesAreNeverEvictedNorWrittenBack() {
        var pool = newPool();
        long p = 5;
        pool.pin(p);
        try (var g = pool.fixExclusive(p)) {
            fillPattern(g.segment(), 9);
        }
        long uncommitted = 6;
        pool.pin(uncommitted);
        try (var g = pool.fixExclusive(uncommitted)) {
            fillPattern(g.segment(), 10); // changed, not yet committed: clean as far as the pool knows
        }
        pool.noteCommitted(p, 3); // committed but still pinned by another open batch
        pushEverythingOut(pool);
        assertFalse(faultsOnFix(pool, uncommitted), "a pinned page with uncommitted changes stays resident");
        try (var g = pool.fixShared(uncommitted)) {
            assertPattern(g.segment(), 10);
        }
        assertEquals(0, src.writesOf(p), "no-steal: a pinned page is not written back");
        assertFalse(faultsOnFix(pool, p), "a pinned page stays resident");
        try (var g = pool.fixShared(p)) {
            assertPattern(g.segment(), 9);
        }
        assertEquals(0, pool.writeBackDirty(), "a checkpoint skips pinned pages too");
        pool.noteCommitted(uncommitted, 4);
        pool.unpin(uncommitted);
        assertEquals(1, pool.writeBackDirty(), "once committed and unpinned, the page is flushed");
        assertEquals(1, src.writesOf(uncommitted));
        assertEquals(0, src.writesOf(p));
        pool.unpin(p);
        assertThrows(IllegalStateException.class, () -> pool.unpin(p));
        assertEquals(0, pool.pins(p));
        pushEverythingOut(pool);
        assertEquals(1, src.writesOf(p));
        assertTrue(faultsOnFix(pool, p));
        try (var g = pool.fixShared(p)) {
            assertPattern(g.segment(), 9);
        }
    }

    @Test
    void poolFullOfPinnedPagesThrowsPoolExhaustedInBoundedTime() throws Exception {
        var pool = track(BufferPool.create(BufferPoolConfig.of(POOL, SPACE), src, Duration.ofMillis(200)));
        for (long p = 0; p < POOL_PAGES; p++) {
            pool.pin(p);
            writePage(pool, p, p, true);
        }
        long t0 = System.nanoTime();
        Deadline.within(Duration.ofSeconds(20), "miss on a pinned-full pool", () -> {
            assertThrows(PoolExhaustedException.class, () -> pool.fixShared(POOL_PAGES));
            assertThrows(PoolExhaustedException.class, () -> pool.fixExclusive(POOL_PAGES + 1));
            assertThrows(PoolExhaustedException.class,
                    () -> pool.readOptimistic(POOL_PAGES + 2, seg -> seg.get(ValueLayout.JAVA_LONG, 0)));
        });
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10), "bounded by the configured 200 ms");
        assertEquals(0, src.writes.get(), "pinned dirty pages were not stolen");
        // once pages are unpinned, the same page can be loaded
        for (long p = 0; p < 100; p++) {
            pool.unpin(p);
        }
        Deadline.within(Duration.ofSeconds(20), "miss after unpinning", () -> {
            try (var g = pool.fixShared(POOL_PAGES)) {
                assertEquals(0L, g.segment().get(ValueLayout.JAVA_LONG, 0));
            }
        });
        for (long p = 100; p < POOL_PAGES; p++) {
            try (var g = pool.fixShared(p)) {
                assertPattern(g.segment(), p);
            }
        }
    }

    @Test
    void defaultExhaustionBoundIsTenSecondsAndMustBePositive() {
        assertThrows(IllegalArgumentException.class,
                () -> BufferPool.create(BufferPoolConfig.of(POOL, SPACE), src, Duration.ZERO));
    }

    @Test
    void outOfRangePageNumbersFailClearly() {
        var pool = newPool();
        long slots = SPACE / PageSize.BASE;
        List<org.junit.jupiter.api.function.Executable> calls = List.of(
                () -> pool.fixShared(-1),
                () -> pool.fixShared(slots),
                () -> pool.fixExclusive(slots),
                () -> pool.fixExclusive(Long.MAX_VALUE),
                () -> pool.readOptimistic(slots, seg -> 0),
                () -> pool.readOptimistic(-1, seg -> 0),
                () -> pool.optimisticVersion(slots),
                () -> pool.sizeClass(slots),
                () -> pool.pin(slots),
                () -> pool.noteCommitted(-5, 1),
                () -> pool.markDirty(slots),
                () -> pool.unlockShared(slots),
                () -> pool.unlockExclusive(-1));
        for (var call : calls) {
            var e = assertThrows(IndexOutOfBoundsException.class, call);
            assertTrue(e.getMessage().contains("outside the page space"), e.getMessage());
        }
        var e = assertThrows(IllegalArgumentException.class, () -> pool.defineSizeClass(slots - 1, 1));
        assertTrue(e.getMessage().contains("runs past the page space"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> pool.defineSizeClass(0, 7));
    }

    @Test
    void doubleUnlockFailsClearlyAndGuardsCloseOnce() {
        var pool = newPool();
        var x = pool.fixExclusive(1);
        x.close();
        x.close(); // idempotent
        assertThrows(IllegalStateException.class, x::segment);
        var e = assertThrows(IllegalStateException.class, () -> pool.unlockExclusive(1));
        assertTrue(e.getMessage().contains("not exclusively latched"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> pool.unlockShared(1));

        var s = pool.fixShared(2);
        assertThrows(IllegalStateException.class, () -> pool.unlockExclusive(2), "shared is not exclusive");
        s.close();
        assertThrows(IllegalStateException.class, () -> pool.unlockShared(2));

        try (var g = pool.fixExclusive(3)) {
            assertThrows(IllegalStateException.class, () -> pool.unlockShared(3), "exclusive is not shared");
            assertTrue(g.exclusive());
        }
        assertThrows(IllegalStateException.class, () -> pool.unlockExclusive(999), "never loaded");
        // the latches still work after the failed unlocks
        try (var g = pool.fixExclusive(1); var h = pool.fixShared(2)) {
            assertFalse(h.exclusive());
            assertThrows(IllegalArgumentException.class,
                    () -> h.segment().set(ValueLayout.JAVA_LONG, 0, 1L), "a shared guard is read-only");
            g.segment().set(ValueLayout.JAVA_LONG, 0, 1L);
        }
    }

    @Test
    void failingReadLeavesThePageEvictedAndUsableLater() throws Exception {
        var pool = newPool();
        long p = 77;
        writePage(pool, p, 3, true);
        pushEverythingOut(pool);
        long resident = pool.residentBytes();
        src.failingReads.add(p);
        assertThrows(StrataException.class, () -> pool.fixShared(p));
        assertThrows(StrataException.class, () -> pool.fixExclusive(p));
        assertThrows(StrataException.class, () -> pool.readOptimistic(p, seg -> seg.get(ValueLayout.JAVA_LONG, 0)));
        assertEquals(resident, pool.residentBytes(), "a failed miss gives back its reservation");
        src.failingReads.remove(p);
        Deadline.within(Duration.ofSeconds(10), "fix after a failed read", () -> {
            try (var g = pool.fixShared(p)) {
                assertPattern(g.segment(), 3);
            }
        });
        assertEquals(3 * 1_000_003L, (long) pool.<Long>readOptimistic(p, seg -> seg.get(ValueLayout.JAVA_LONG, 0)));
    }

    @Test
    void writeBackDirtyFlushesUnpinnedPagesAndTracksMinDirtyLsn() {
        var pool = newPool();
        assertEquals(Long.MAX_VALUE, pool.minDirtyLsn());
        long[] pages = {20, 21, 22};
        long[] lsns = {10, 5, 7};
        for (int i = 0; i < pages.length; i++) {
            pool.pin(pages[i]);
            try (var g = pool.fixExclusive(pages[i])) {
                fillPattern(g.segment(), pages[i]);
            }
            pool.noteCommitted(pages[i], lsns[i]);
        }
        pool.noteCommitted(21, 30); // a later commit keeps the oldest unflushed LSN
        assertEquals(30, pool.pageLsn(21));
        assertEquals(5, pool.minDirtyLsn());
        assertEquals(3, pool.dirtyPages());
        assertEquals(0, pool.writeBackDirty(), "all pinned");
        pool.unpin(20);
        pool.unpin(22);
        assertEquals(2, pool.writeBackDirty());
        assertEquals(5, pool.minDirtyLsn(), "the pinned page still holds the minimum");
        assertEquals(1, pool.dirtyPages());
        assertEquals(10, src.images.get(20L).lsn());
        assertEquals(7, src.images.get(22L).lsn());
        assertFalse(src.images.containsKey(21L));
        pool.unpin(21);
        assertEquals(1, pool.writeBackDirty());
        assertEquals(30, src.images.get(21L).lsn());
        assertEquals(Long.MAX_VALUE, pool.minDirtyLsn());
        assertEquals(0, pool.dirtyPages());
        assertEquals(0, pool.writeBackDirty(), "nothing left to flush");
        long reads = src.reads.get();
        for (long p : pages) {
            try (var g = pool.fixShared(p)) {
                assertPattern(g.segment(), p);
            }
        }
        assertEquals(reads, src.reads.get(), "flushed pages stay resident");
        assertEquals(3, src.writes.get());
        pushEverythingOut(pool);
        assertEquals(3, src.writes.get(), "flushed pages are clean: eviction drops them unwritten");
        PoolStats s = pool.stats();
        assertEquals(3, s.writeBacks());
        assertEquals(3L * PageSize.BASE, s.bytesWritten());
    }

    /** Fills the pool with dirty pages so the next miss must write back to make room. */
    void fillWithDirtyPages(BufferPool pool) {
        for (long p = 0; p < POOL_PAGES; p++) {
            writePage(pool, p, p, true);
        }
    }

    @Test
    void failedWriteBackDuringAMissLeavesNoPageLatched() throws Exception {
        var pool = newPool();
        fillWithDirtyPages(pool);
        long miss = POOL_PAGES + 5;
        src.failingWrites.set(1);
        assertThrows(StrataException.class, () -> pool.fixShared(miss));
        Deadline.within(Duration.ofSeconds(10), "the page whose miss failed", () -> {
            try (var g = pool.fixExclusive(miss)) {
                assertEquals(0L, g.segment().get(ValueLayout.JAVA_LONG, 0));
            }
        });
        Deadline.within(Duration.ofSeconds(10), "the pages whose write-back failed", () -> {
            for (long p = 0; p < POOL_PAGES; p++) {
                try (var g = pool.fixExclusive(p)) {
                    assertPattern(g.segment(), p);
                }
            }
        });
        assertTrue(pool.residentBytes() <= POOL);
    }

    @Test
    void uncheckedFailureOfTheSourceReleasesLatches() throws Exception {
        var pool = newPool();
        fillWithDirtyPages(pool);
        src.crashingWrites.set(1);
        assertThrows(RuntimeException.class, () -> pool.fixShared(POOL_PAGES + 1));
        Deadline.within(Duration.ofSeconds(10), "latching every page after an unchecked write failure", () -> {
            try (var g = pool.fixExclusive(POOL_PAGES + 1)) {
                assertEquals(0L, g.segment().get(ValueLayout.JAVA_LONG, 0));
            }
            for (long p = 0; p < POOL_PAGES; p++) {
                try (var g = pool.fixExclusive(p)) {
                    assertPattern(g.segment(), p);
                }
            }
        });
        src.crashingWrites.set(1);
        assertThrows(RuntimeException.class, pool::writeBackDirty);
        Deadline.within(Duration.ofSeconds(10), "latching after a failed checkpoint", () -> {
            for (long p = 0; p < POOL_PAGES; p++) {
                try (var g = pool.fixExclusive(p)) {
                    assertPattern(g.segment(), p);
                }
            }
        });
    }

    /**
     * A checkpoint must not wait for a latch while it holds others: a thread holding page A
     * exclusively and then asking for page B would otherwise deadlock with a flush that holds B
     * shared and waits for A.
     */
    @Test
    void writeBackDirtyDoesNotHoldLatchesWhileWaitingForOne() throws Exception {
        var pool = newPool();
        int n = 32;
        for (long p = 0; p < n; p++) {
            writePage(pool, p, p, true);
        }
        // hold one page exclusively; a checkpoint starts and blocks on it
        for (long held = 0; held < n; held += 8) {
            final long heldPage = held;
            for (long p = 0; p < n; p++) {
                pool.markDirty(p);
            }
            CountDownLatch release = new CountDownLatch(1);
            CountDownLatch holding = new CountDownLatch(1);
            Thread holder = Thread.ofPlatform().name("holder").start(() -> {
                try (var g = pool.fixExclusive(heldPage)) {
                    assertTrue(g.exclusive());
                    holding.countDown();
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            assertTrue(holding.await(10, TimeUnit.SECONDS));
            Thread flusher = Thread.ofPlatform().name("flusher").daemon().start(pool::writeBackDirty);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (flusher.getState() != Thread.State.TIMED_WAITING && flusher.isAlive()) {
                assertTrue(System.nanoTime() < deadline, "flusher never blocked on the held page");
                Thread.onSpinWait();
            }
            // the holder now wants every other page exclusively (lock coupling)
            try {
                Deadline.within(Duration.ofSeconds(5), "taking other latches while a flush waits", () -> {
                    for (long p = 0; p < n; p++) {
                        if (p != heldPage) {
                            try (var g = pool.fixExclusive(p)) {
                                assertPattern(g.segment(), p);
                            }
                        }
                    }
                });
            } finally {
                release.countDown();
                holder.join(10_000);
                flusher.join(10_000);
            }
            assertFalse(flusher.isAlive(), "the flush finishes once the page is released");
        }
        assertEquals(0, pool.dirtyPages());
    }

    @Test
    void sizeClassOfAResidentPageCannotChange() {
        var pool = newPool();
        writePage(pool, 128, 1, true);
        assertThrows(IllegalStateException.class, () -> pool.defineSizeClass(128, 2));
        assertEquals(0, pool.sizeClass(128));
        pushEverythingOut(pool);
        long before = pool.residentBytes();
        pool.defineSizeClass(256, 3); // never loaded: fine
        assertEquals(3, pool.sizeClass(256));
        try (var g = pool.fixShared(256)) {
            assertEquals(PageSize.bytes(3), g.segment().byteSize());
        }
        assertTrue(pool.residentBytes() <= POOL && pool.residentBytes() >= 0, "resident " + before);
    }

    @Test
    void closedPoolRejectsUseInsteadOfTouchingUnmappedMemory() {
        var pool = newPool();
        writePage(pool, 1, 1, true);
        var guard = pool.fixShared(2);
        pool.close();
        pool.close(); // idempotent
        List<org.junit.jupiter.api.function.Executable> calls = new ArrayList<>(List.of(
                () -> pool.fixShared(1),
                () -> pool.fixExclusive(3),
                () -> pool.readOptimistic(1, seg -> seg.get(ValueLayout.JAVA_LONG, 0)),
                () -> pool.optimisticVersion(1),
                () -> pool.validate(1, 0),
                () -> pool.pin(1),
                () -> pool.markDirty(1),
                () -> pool.pageLsn(1),
                () -> pool.writeBackDirty(),
                () -> pool.minDirtyLsn(),
                () -> pool.stats(),
                guard::close));
        for (var call : calls) {
            assertThrows(IllegalStateException.class, call);
        }
    }

    @Test
    void optimisticReadOfAnEvictedPageReloadsIt() {
        var pool = newPool();
        writePage(pool, 40, 4, true);
        pushEverythingOut(pool);
        long v = pool.optimisticVersion(40);
        long first = pool.page(40).get(ValueLayout.JAVA_LONG, 0);
        assertTrue(pool.validate(40, v));
        assertEquals(4 * 1_000_003L, first);
        try (var g = pool.fixExclusive(40)) {
            g.segment().set(ValueLayout.JAVA_LONG, 0, 1L);
        }
        assertFalse(pool.validate(40, v), "a writer in between invalidates");
        assertNotEquals(v, pool.optimisticVersion(40));
    }

    @Test
    void sharedLatchCountSaturatesAndThenWaits() throws Exception {
        var pool = newPool();
        long p = 3;
        List<PageGuard> guards = new ArrayList<>();
        for (int k = 0; k < 252; k++) { // the state byte counts up to 252 shared holders
            guards.add(pool.fixShared(p));
        }
        CountDownLatch started = new CountDownLatch(1);
        var late = new java.util.concurrent.CompletableFuture<Long>();
        Thread t = Thread.ofPlatform().daemon().start(() -> {
            started.countDown();
            try (var g = pool.fixShared(p)) {
                late.complete(g.pageNo());
            } catch (Throwable e) {
                late.completeExceptionally(e);
            }
        });
        assertTrue(started.await(10, TimeUnit.SECONDS));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (t.getState() != Thread.State.TIMED_WAITING && t.getState() != Thread.State.WAITING) {
            assertTrue(System.nanoTime() < deadline, "the 253rd reader should wait");
            assertFalse(late.isDone(), "the 253rd reader got in");
            Thread.onSpinWait();
        }
        assertFalse(late.isDone(), "a saturated shared count admits no one");
        guards.removeLast().close();
        assertEquals(p, late.get(10, TimeUnit.SECONDS));
        for (PageGuard g : guards) {
            g.close();
        }
        try (var g = pool.fixExclusive(p)) { // back to unlocked
            assertTrue(g.exclusive());
        }
    }

    /** A read over an evicted (zeroed) page may fail in any way, Errors included; it is retried, not thrown. */
    @Test
    void optimisticReadRetriesEvenAnErrorThrownByAnInvalidatedRun() {
        var pool = newPool();
        long p = 50;
        writePage(pool, p, 5, true);
        int[] runs = {0};
        long v = pool.readOptimistic(p, seg -> {
            if (runs[0]++ == 0) {
                pushEverythingOut(pool);
            }
            long first = seg.get(ValueLayout.JAVA_LONG, 0);
            if (first == 0) {
                throw new AssertionError("a length or invariant read from garbage");
            }
            return first;
        });
        assertEquals(5 * 1_000_003L, v);
        assertEquals(2, runs[0]);
        // an Error from a run that validates is the caller's and propagates
        assertThrows(AssertionError.class, () -> pool.readOptimistic(p, seg -> {
            throw new AssertionError("real");
        }));
    }

    @Test
    void backgroundEvictionMakesRoomAheadOfMissesAndWritesDirtyVictimsBackIntact() throws Exception {
        var pool = newPool();
        for (long p = 0; p < POOL_PAGES; p++) { // a pool full of dirty pages
            writePage(pool, p, p + 7, true);
        }
        assertEquals(0, src.writes.get());
        pool.startBackgroundEviction("test-evictor");
        assertThrows(IllegalStateException.class, () -> pool.startBackgroundEviction("second"));
        long headroom = 64 * PageSize.BASE; // max(64, min(1024, 1024 / 32)) slots
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (POOL - pool.residentBytes() < headroom && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertTrue(POOL - pool.residentBytes() >= headroom, "free: " + (POOL - pool.residentBytes()));
        assertTrue(src.writes.get() >= 64, "dirty victims written back: " + src.writes.get());
        assertEquals(java.util.Set.of("test-evictor"), src.writerThreads);
        // fewer misses than the headroom: the missing thread never writes back a victim itself
        pool.stopBackgroundEviction();
        for (long p = SCRATCH; p < SCRATCH + 32; p++) {
            pool.fixShared(p).close();
        }
        assertEquals(java.util.Set.of("test-evictor"), src.writerThreads);
        for (long p = 0; p < POOL_PAGES; p++) { // evicted or not, every page reads back what was written
            try (var g = pool.fixShared(p)) {
                assertPattern(g.segment(), p + 7);
            }
        }
    }

    @Test
    void closeStopsTheBackgroundEvictor() {
        var pool = newPool();
        pool.startBackgroundEviction("test-evictor-close");
        assertTrue(evictorAlive("test-evictor-close"));
        pool.close();
        assertFalse(evictorAlive("test-evictor-close"));
        pool.stopBackgroundEviction(); // idempotent
    }

    private static boolean evictorAlive(String name) {
        return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals(name) && t.isAlive());
    }

    @Test
    void aDiscardedPageLeavesThePoolWithoutAWriteBackAndFailsOptimisticReaders() {
        var pool = newPool();
        writePage(pool, 3, 7, true);
        pool.writeBackDirty();
        writePage(pool, 3, 8, true); // dirty again: the source holds seed 7
        long v = pool.optimisticVersion(3);
        int writes = src.writesOf(3);
        long resident = pool.residentBytes();
        pool.discard(3);
        assertEquals(writes, src.writesOf(3), "a discarded page is not written back");
        assertEquals(resident - PageSize.BASE, pool.residentBytes());
        assertEquals(0, pool.dirtyPages());
        assertFalse(pool.validate(3, v), "an optimistic reader of the dropped page must restart");
        pool.discard(3); // already gone: nothing to do
        try (var g = pool.fixShared(3)) {
            assertPattern(g.segment(), 7); // read from the source again
        }
        pool.pin(3);
        assertThrows(IllegalStateException.class, () -> pool.discard(3), "a pinned page holds uncommitted changes");
        pool.unpin(3);
    }

    @Test
    void prefetchHintsTheSourceOnlyForEvictedPagesThatHoldData() {
        var pool = newPool();
        long fresh = 200;
        pool.defineFreshPage(fresh, 2);
        pool.prefetch(fresh); // allocated anew: nothing to read
        writePage(pool, 1, 3, true);
        pool.prefetch(1); // resident
        assertEquals(List.of(), src.prefetches);
        pool.writeBackDirty();
        pushEverythingOut(pool);
        pool.prefetch(1);
        assertEquals(List.of(1L * 256), src.prefetches);
        assertThrows(IndexOutOfBoundsException.class, () -> pool.prefetch(SPACE / PageSize.BASE));
    }
}
