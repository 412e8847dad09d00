package dev.strata.buffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.strata.core.PageSize;
import dev.strata.core.ProcessStats;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A new pool's pages sit on 2 MiB transparent huge pages while they all fit; from its first eviction
 * on it is back on 4 KiB pages and the process keeps no more than the pool resident. Reads the
 * pool's mapping in {@code /proc/self/smaps}.
 */
class BufferPoolHugePagesTest {
    private static final long POOL = 16L << 20;
    private static final long SPACE = 128L << 20;
    private static final long PAGES_16K = POOL / 16384;

    @Test
    void aNewPoolUsesHugePagesUntilItFirstEvicts() throws IOException {
        assumeTrue(thpOffered(), "transparent huge pages are off on this machine");
        try (BufferPool pool = BufferPool.create(BufferPoolConfig.of(POOL, SPACE), new MemoryPageSource())) {
            assertTrue(pool.adviseHugePages());
            for (long i = 0; i < PAGES_16K / 2; i++) { // half the pool
                write(pool, i);
            }
            long huge = smapsKb(pool, "AnonHugePages");
            assertTrue(huge >= 2048, "8 MiB of fresh pages on " + huge + " KiB of huge pages");
            for (long i = PAGES_16K / 2; i < 4 * PAGES_16K; i++) { // four pools' worth: evicts
                write(pool, i);
            }
            assertTrue(pool.hasEvicted());
            assertFalse(pool.adviseHugePages(), "no huge pages once the pool has evicted");
            long rssKb = smapsKb(pool, "Rss");
            assertTrue(rssKb * 1024 <= POOL + (2L << 20), "resident " + rssKb + " KiB for a pool of " + (POOL >> 10) + " KiB");
            for (long i = 0; i < 4 * PAGES_16K; i += 7) {
                try (var g = pool.fixShared(pageNo(i))) {
                    assertEquals(i + 1, g.segment().get(java.lang.foreign.ValueLayout.JAVA_LONG, 8192), "page " + i);
                }
            }
        }
    }

    @Test
    void theBackgroundThreadFaultsInTheHugePagePrefixAheadOfNewPagesAndNeverPastThePool() throws Exception {
        assumeTrue(thpOffered(), "transparent huge pages are off on this machine");
        long pool = 64L << 20;
        try (BufferPool bp = BufferPool.create(BufferPoolConfig.of(pool, 4 * pool), new MemoryPageSource())) {
            assertTrue(bp.adviseHugePages());
            long expected = startAndDefine4MiBOfNewPages(bp);
            assertTrue(smapsKb(bp, "Rss") * 1024 >= expected - (2L << 20), "resident " + smapsKb(bp, "Rss") + " KiB");
            assertTrue(smapsKb(bp, "AnonHugePages") * 1024 >= expected - (4L << 20),
                    "on huge pages: " + smapsKb(bp, "AnonHugePages") + " KiB");
            for (long i = 0; i < pool / 16384; i++) { // new pages up to the pool's end: the prefix, and no further
                bp.defineFreshPage(pageNo(i), PageSize.classOf(16384));
            }
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (bp.prefaultedBytes() < pool && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertEquals(pool, bp.prefaultedBytes());
            for (long i = 0; i < 2 * pool / 16384; i++) { // two pools' worth: evicts
                write(bp, i);
            }
            assertTrue(bp.hasEvicted());
            assertTrue(smapsKb(bp, "Rss") * 1024 <= pool + (2L << 20), "resident " + smapsKb(bp, "Rss") + " KiB");
        }
    }

    @Test
    void prefaultNewPagesFaultsInAheadOnSmallPagesAndStopsAtTheFirstEviction() throws Exception {
        long pool = 64L << 20;
        try (BufferPool bp = BufferPool.create(BufferPoolConfig.of(pool, 4 * pool), new MemoryPageSource())) {
            assertTrue(bp.prefaultNewPages());
            long expected = startAndDefine4MiBOfNewPages(bp);
            assertTrue(smapsKb(bp, "Rss") * 1024 >= expected, "resident " + smapsKb(bp, "Rss") + " KiB");
            assertEquals(0, smapsKb(bp, "AnonHugePages"), "on 4 KiB pages");
            for (long i = 0; i < 2 * pool / 16384; i++) { // two pools' worth: evicts
                write(bp, i);
            }
            assertTrue(bp.hasEvicted());
            assertFalse(bp.prefaultNewPages(), "not once the pool has evicted");
            long after = bp.prefaultedBytes();
            for (long i = 2 * pool / 16384; i < 3 * pool / 16384; i++) { // new pages past the prefix
                bp.defineFreshPage(pageNo(i), PageSize.classOf(16384));
            }
            Thread.sleep(100);
            assertEquals(after, bp.prefaultedBytes(), "no prefault after the first eviction");
            assertTrue(smapsKb(bp, "Rss") * 1024 <= pool + (2L << 20), "resident " + smapsKb(bp, "Rss") + " KiB");
        }
    }

    @Test
    void theDistanceFaultedInAheadIsASixteenthOfTheNewPagesIn2MiBStepsFrom4To32MiB() {
        long mib = 1L << 20;
        assertEquals(4 * mib, BufferPool.prefaultAheadBytes(16384));
        assertEquals(4 * mib, BufferPool.prefaultAheadBytes(64 * mib));
        assertEquals(6 * mib, BufferPool.prefaultAheadBytes(64 * mib + 16)); // 4 MiB + 1: up to the next 2 MiB
        assertEquals(8 * mib, BufferPool.prefaultAheadBytes(128 * mib));
        assertEquals(32 * mib, BufferPool.prefaultAheadBytes(512 * mib));
        assertEquals(32 * mib, BufferPool.prefaultAheadBytes(64L << 30));
    }

    @Test
    void aPoolNotAdvisedStaysOnSmallPagesWhateverTheSystemDefault() {
        try (BufferPool pool = BufferPool.create(BufferPoolConfig.of(POOL, SPACE), new MemoryPageSource())) {
            for (long i = 0; i < PAGES_16K / 2; i++) {
                write(pool, i);
            }
            assertEquals(0, smapsKb(pool, "AnonHugePages"));
        }
    }

    /**
     * Starts the evictor of a pool asked to fault in ahead, checks that it faults in nothing before the first new
     * page, defines 4 MiB of new pages (never written), and checks that it faults in 4 MiB past them and no further.
     * Returns that end.
     */
    private static long startAndDefine4MiBOfNewPages(BufferPool bp) throws InterruptedException {
        bp.startBackgroundEviction("test-evictor");
        Thread.sleep(50);
        assertEquals(0, bp.prefaultedBytes(), "nothing faulted in before the first new page");
        long pages = (4L << 20) / 16384;
        for (long i = 0; i < pages; i++) {
            bp.defineFreshPage(pageNo(i), PageSize.classOf(16384));
        }
        long expected = (4L << 20) + BufferPool.prefaultAheadBytes(4L << 20);
        assertEquals(8L << 20, expected, "4 MiB of new pages: the least distance, 4 MiB");
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (bp.prefaultedBytes() < expected && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        Thread.sleep(50);
        assertEquals(expected, bp.prefaultedBytes(), "faulted in up to 4 MiB past the new pages, no further");
        return expected;
    }

    private static long pageNo(long i) {
        return i * (16384 / PageSize.BASE);
    }

    private static void write(BufferPool pool, long i) {
        long p = pageNo(i);
        pool.defineSizeClass(p, PageSize.classOf(16384));
        try (var g = pool.fixExclusive(p)) {
            g.segment().fill((byte) 1);
            g.segment().set(java.lang.foreign.ValueLayout.JAVA_LONG, 8192, i + 1);
            pool.markDirty(p);
        }
    }

    private static boolean thpOffered() throws IOException {
        Path enabled = Path.of("/sys/kernel/mm/transparent_hugepage/enabled");
        return Files.exists(enabled) && !Files.readString(enabled).contains("[never]");
    }

    private static long smapsKb(BufferPool pool, String field) {
        long bytes = ProcessStats.mappedBytes(pool.memory(), field);
        assertTrue(bytes >= 0, "no mapping of the pool in /proc/self/smaps");
        return bytes / 1024;
    }
}
