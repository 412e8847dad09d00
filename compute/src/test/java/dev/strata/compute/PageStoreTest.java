package dev.strata.compute;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.core.PageId;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PageStoreTest {
    @TempDir
    Path dir;

    private PageStoreConfig small() {
        return PageStoreConfig.defaults().withPool(4L << 20).withCapacity(256L << 20)
                .withCheckpointInterval(Duration.ZERO).withSegmentBytes(1L << 20);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void pagesAreStoredCompressedAndReadBackThroughEvictionAndReopen() {
        // 64 KiB pages of repeated text compress; 6 MiB of them do not all fit a 4 MiB pool, so reads go to the file
        int pages = 96;
        long[] ids = new long[pages];
        java.util.function.IntFunction<byte[]> content =
                i -> java.util.Arrays.copyOf(bytes(("page " + i + " holds a line that repeats; ").repeat(3000)), 65536);
        PageStoreConfig config = small();
        try (PageStore store = PageStore.open(dir, config)) {
            for (int i = 0; i < pages; i++) {
                try (WriteBatch b = store.newBatch()) {
                    ids[i] = b.allocate(65536);
                    try (PageHandle h = store.fixExclusive(ids[i])) {
                        b.write(h, 0, content.apply(i));
                    }
                    b.commit();
                }
            }
            store.checkpoint();
            for (int i = 0; i < pages; i++) {
                try (PageHandle h = store.fixShared(ids[i])) {
                    assertArrayEquals(content.apply(i), h.segment().toArray(ValueLayout.JAVA_BYTE), "page " + i);
                }
            }
            PageStoreStats stats = store.stats();
            assertTrue(stats.pageImageBytes() >= (long) pages * 65536, "written " + stats.pageImageBytes());
            assertTrue(stats.pageStoredBytes() * 8 <= stats.pageImageBytes(),
                    "stored " + stats.pageStoredBytes() + " for " + stats.pageImageBytes());
            assertTrue(stats.pool().misses() >= pages, "the reads went to the file: " + stats.pool().misses());
        }
        try (PageStore store = PageStore.open(dir, config.withPageCompression(false))) {
            for (int i = 0; i < pages; i++) {
                try (PageHandle h = store.fixShared(ids[i])) {
                    assertArrayEquals(content.apply(i), h.segment().toArray(ValueLayout.JAVA_BYTE), "page " + i);
                }
            }
        }
    }

    @Test
    void committedPagesSurviveReopen() {
        long page;
        try (PageStore store = PageStore.open(dir, small())) {
            try (WriteBatch b = store.newBatch()) {
                page = b.allocate(8192);
                try (PageHandle h = store.fixExclusive(page)) {
                    b.write(h, 100, bytes("hello"));
                    b.putLong(h, 8000, 42L);
                }
                assertTrue(b.commit() > 0);
            }
        }
        try (PageStore store = PageStore.open(dir, small())) {
            assertEquals(8192, store.pageSize(page));
            try (PageHandle h = store.fixShared(page)) {
                assertArrayEquals(bytes("hello"), h.read(100, 5));
                assertEquals(42L, h.getLong(8000));
                assertEquals(0L, h.getLong(0));
            }
            assertEquals(42L, (long) store.readOptimistic(page, s -> s.get(ValueLayout.JAVA_LONG_UNALIGNED, 8000)));
        }
    }

    @Test
    void aNewStoreCreatesItsPagesOnSmallPagesByDefault() {
        assertEquals(false, PageStoreConfig.defaults().hugePages());
        PageStoreConfig config = small().withPool(16L << 20);
        assertTrue(config.toString().contains("huge-pages=false"), config.toString());
        List<Long> pages = new ArrayList<>();
        try (PageStore store = PageStore.open(dir, config)) {
            fillPages(store, pages, 256); // 4 MiB of new pages, a quarter of the pool
            assertEquals(0, dev.strata.core.ProcessStats.mappedBytes(store.pageMemory(), "AnonHugePages"));
            assertTrue(dev.strata.core.ProcessStats.mappedBytes(store.pageMemory(), "Rss") >= 4L << 20);
        }
    }

    @Test
    void aNewStoreAskedForHugePagesCreatesItsPagesOnThemAReopenedOneDoesNot() throws Exception {
        java.nio.file.Path enabled = java.nio.file.Path.of("/sys/kernel/mm/transparent_hugepage/enabled");
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.exists(enabled)
                && !java.nio.file.Files.readString(enabled).contains("[never]"), "transparent huge pages are off");
        PageStoreConfig config = small().withPool(16L << 20).withHugePages(true);
        assertTrue(config.toString().contains("huge-pages=true"), config.toString());
        List<Long> pages = new ArrayList<>();
        try (PageStore store = PageStore.open(dir, config)) {
            fillPages(store, pages, 256); // 4 MiB of new pages, a quarter of the pool
            long huge = dev.strata.core.ProcessStats.mappedBytes(store.pageMemory(), "AnonHugePages");
            assertTrue(huge >= 2L << 20, "new pages on " + huge + " bytes of huge pages");
        }
        try (PageStore store = PageStore.open(dir, config)) {
            for (long p : pages) {
                try (PageHandle h = store.fixShared(p)) {
                    assertEquals(p, h.getLong(0));
                }
            }
            fillPages(store, pages, 64);
            // pages read back land wherever their numbers say, among others not read: 4 KiB pages
            assertEquals(0, dev.strata.core.ProcessStats.mappedBytes(store.pageMemory(), "AnonHugePages"));
        }
    }

    private static void fillPages(PageStore store, List<Long> pages, int n) {
        try (WriteBatch b = store.newBatch()) {
            for (int i = 0; i < n; i++) {
                long page = b.allocate(16384);
                try (PageHandle h = store.fixExclusive(page)) {
                    b.putLong(h, 0, page); // the fault of a new page fills all of it with zeros
                }
                pages.add(page);
            }
            b.commit();
        }
    }

    @Test
    void movesActLikeMemmoveAreLoggedAsMovesAndAreUndoneOnAbort() {
        byte[] model = new byte[16384];
        new Random(5).nextBytes(model);
        long page;
        try (PageStore store = PageStore.open(dir, small())) {
            page = store.allocate(16384);
            try (WriteBatch b = store.newBatch(); PageHandle h = store.fixExclusive(page)) {
                b.write(h, 0, model);
                b.commit();
            }
            long logged = store.stats().logBytes();
            try (WriteBatch b = store.newBatch(); PageHandle h = store.fixExclusive(page)) {
                b.move(h, 1000, 1100, 6000); // overlapping, forward
                b.move(h, 9000, 8000, 5000); // overlapping, backward
                b.move(h, 0, 16000, 384);
                b.commit();
            }
            System.arraycopy(model, 1000, model, 1100, 6000);
            System.arraycopy(model, 9000, model, 8000, 5000);
            System.arraycopy(model, 0, model, 16000, 384);
            assertTrue(store.stats().logBytes() - logged < 200, "three moves of 11 KiB logged as "
                    + (store.stats().logBytes() - logged) + " bytes");
            try (PageHandle h = store.fixShared(page)) {
                assertArrayEquals(model, h.read(0, 16384));
            }
            try (WriteBatch b = store.newBatch(); PageHandle h = store.fixExclusive(page)) {
                b.move(h, 0, 10, 16000);
                b.write(h, 5, bytes("x"));
                b.move(h, 100, 0, 50);
                assertThrows(IndexOutOfBoundsException.class, () -> b.move(h, 16000, 0, 385));
                assertThrows(IndexOutOfBoundsException.class, () -> b.move(h, 0, 16000, 385));
                assertThrows(IndexOutOfBoundsException.class, () -> b.move(h, -1, 0, 10));
            } // aborted
            try (PageHandle h = store.fixShared(page)) {
                assertArrayEquals(model, h.read(0, 16384));
            }
        }
        try (PageStore store = PageStore.open(dir, small())) { // and after a reopen
            try (PageHandle h = store.fixShared(page)) {
                assertArrayEquals(model, h.read(0, 16384));
            }
        }
    }

    @Test
    void closingAnUncommittedBatchRestoresBeforeImages() {
        try (PageStore store = PageStore.open(dir, small())) {
            long page = store.allocate(4096);
            try (WriteBatch b = store.newBatch(); PageHandle h = store.fixExclusive(page)) {
                b.write(h, 0, bytes("committed"));
                b.commit();
            }
            try (WriteBatch b = store.newBatch()) {
                try (PageHandle h = store.fixExclusive(page)) {
                    b.write(h, 0, bytes("ABORTED!!"));
                    b.write(h, 4000, bytes("x"));
                }
            }
            try (PageHandle h = store.fixShared(page)) {
                assertArrayEquals(bytes("committed"), h.read(0, 9));
                assertEquals(0, h.read(4000, 1)[0]);
            }
            // a page the aborted batch allocated (its writes kept no before-images) is gone, not half-written
            long[] dropped = new long[1];
            try (WriteBatch b = store.newBatch()) {
                dropped[0] = b.allocate(4096);
                try (PageHandle h = store.fixExclusive(dropped[0])) {
                    b.write(h, 0, bytes("never committed"));
                    b.move(h, 0, 100, 15);
                }
            }
            assertThrows(IllegalArgumentException.class, () -> store.fixShared(dropped[0]));
            assertTrue(store.allocate(4096) != dropped[0], "an aborted allocation's page is not handed out again");
            // a page held by an aborted batch is writable by the next one
            try (WriteBatch b = store.newBatch(); PageHandle h = store.fixExclusive(page)) {
                b.write(h, 0, bytes("again"));
                b.commit();
            }
        }
    }

    @Test
    void anAbortRestoresMegabytesOfOverlappingChangesAcrossPagesAndTheNextBatchStartsClean() {
        Random rnd = new Random(11);
        long[] pages = new long[3];
        byte[][] model = new byte[3][65536];
        try (PageStore store = PageStore.open(dir, small())) {
            try (WriteBatch b = store.newBatch()) {
                for (int p = 0; p < 3; p++) {
                    pages[p] = b.allocate(65536);
                    rnd.nextBytes(model[p]);
                    try (PageHandle h = store.fixExclusive(pages[p])) {
                        b.write(h, 0, model[p]);
                    }
                }
                b.commit();
            }
            for (int round = 0; round < 2; round++) {
                try (WriteBatch b = store.newBatch()) {
                    // ~1,500 changes, ~2 MiB of before-images: many times the first buffer and index arrays
                    for (int i = 0; i < 1500; i++) {
                        int p = i % 3;
                        try (PageHandle h = store.fixExclusive(pages[p])) {
                            int len = 1 + rnd.nextInt(2800);
                            int at = rnd.nextInt(65536 - len);
                            if (i % 5 == 0) {
                                b.move(h, rnd.nextInt(65536 - len), at, len);
                            } else {
                                byte[] junk = new byte[len];
                                rnd.nextBytes(junk);
                                b.write(h, at, junk);
                            }
                        }
                    }
                    try (PageHandle h = store.fixExclusive(pages[0])) { // the last changes under a held latch
                        b.write(h, 0, new byte[65536]);
                        b.move(h, 10, 20, 30_000);
                        b.close();
                        assertArrayEquals(model[0], h.read(0, 65536), "restored through the held latch");
                    }
                }
                for (int p = 0; p < 3; p++) {
                    try (PageHandle h = store.fixShared(pages[p])) {
                        assertArrayEquals(model[p], h.read(0, 65536), "page " + p + " after abort " + round);
                    }
                }
            }
            // the next batch reuses the aborted batches' buffers: only its own change is logged and kept
            try (WriteBatch b = store.newBatch(); PageHandle h = store.fixExclusive(pages[1])) {
                b.write(h, 7, bytes("kept"));
                b.commit();
            }
            System.arraycopy(bytes("kept"), 0, model[1], 7, 4);
        }
        try (PageStore store = PageStore.open(dir, small())) { // and redo of the log gives the same pages
            for (int p = 0; p < 3; p++) {
                try (PageHandle h = store.fixShared(pages[p])) {
                    assertArrayEquals(model[p], h.read(0, 65536), "page " + p + " after reopen");
                }
            }
        }
    }

    @Test
    void misuseGivesClearErrors() {
        PageStore store = PageStore.open(dir, small());
        long page = store.allocate(4096);
        assertThrows(IllegalArgumentException.class, () -> store.fixShared(PageId.of(0, 999)));
        assertThrows(IllegalArgumentException.class, () -> store.fixShared(PageId.of(7, PageId.pageNumber(page))));
        try (WriteBatch b = store.newBatch()) {
            try (PageHandle h = store.fixShared(page)) {
                assertThrows(IllegalStateException.class, () -> b.write(h, 0, bytes("x")));
            }
            try (PageHandle h = store.fixExclusive(page)) {
                assertThrows(IndexOutOfBoundsException.class, () -> b.write(h, 4095, bytes("xy")));
                assertThrows(IndexOutOfBoundsException.class, () -> b.write(h, -1, bytes("x")));
                b.write(h, 0, bytes("a"));
            }
            PageHandle released = store.fixExclusive(page);
            released.close();
            assertThrows(IllegalStateException.class, () -> b.write(released, 0, bytes("x")));
            try (WriteBatch other = store.newBatch(); PageHandle h = store.fixExclusive(page)) {
                assertThrows(IllegalStateException.class, () -> other.write(h, 0, bytes("b")));
            }
            b.commit();
            assertThrows(IllegalStateException.class, b::commit);
        }
        assertThrows(IllegalArgumentException.class, () -> store.allocate(1000));
        store.close();
        store.close();
        assertThrows(PageStoreClosedException.class, () -> store.fixShared(page));
        assertThrows(PageStoreClosedException.class, store::newBatch);
    }

    @Test
    void aDirectoryCanBeOpenedOnlyOnce() {
        try (PageStore store = PageStore.open(dir, small())) {
            assertThrows(RuntimeException.class, () -> PageStore.open(dir, small()));
        }
    }

    @Test
    void storeLargerThanPoolSurvivesEvictionCheckpointAndReopen() {
        Random rnd = new Random(7);
        int pages = 4000; // 16 MiB of 4 KiB pages over a 4 MiB pool
        List<Long> ids = new ArrayList<>();
        long[] model = new long[pages];
        try (PageStore store = PageStore.open(dir, small())) {
            for (int i = 0; i < pages; i += 100) {
                try (WriteBatch b = store.newBatch()) {
                    for (int k = 0; k < 100; k++) {
                        ids.add(b.allocate(4096));
                    }
                    b.commit();
                }
            }
            List<CompletableFuture<Long>> pending = new ArrayList<>();
            for (int round = 0; round < 3; round++) {
                for (int i = 0; i < pages; i++) {
                    long v = rnd.nextLong();
                    try (WriteBatch b = store.newBatch()) {
                        try (PageHandle h = store.fixExclusive(ids.get(i))) {
                            b.putLong(h, (i % 500) * 8, v);
                        }
                        pending.add(b.commitAsync());
                    }
                    model[i] = v;
                }
                if (round == 1) {
                    store.checkpoint();
                }
            }
            pending.forEach(CompletableFuture::join);
            PageStoreStats stats = store.stats();
            assertTrue(stats.pool().evictions() > 0, "pool smaller than data must evict: " + stats);
            assertTrue(stats.pool().residentBytes() <= 4L << 20, "resident within pool: " + stats);
            assertTrue(stats.fsyncs() < stats.commits(), "group commit batches fsyncs: " + stats);
        }
        try (PageStore store = PageStore.open(dir, small())) {
            assertEquals(pages, store.stats().allocatedPages());
            for (int i = 0; i < pages; i++) {
                int slot = (i % 500) * 8;
                assertEquals(model[i], (long) store.readOptimistic(ids.get(i),
                        s -> s.get(ValueLayout.JAVA_LONG_UNALIGNED, slot)), "page " + i);
            }
        }
    }

    @Test
    void checkpointTrimsTheLogAndRecoveryReplaysOnlyTheTail() {
        long page;
        try (PageStore store = PageStore.open(dir, small().withSegmentBytes(1L << 20))) {
            page = store.allocate(65536);
            byte[] chunk = new byte[60_000];
            for (int i = 0; i < 60; i++) { // ~3.6 MiB of log: several segments
                chunk[0] = (byte) i;
                try (WriteBatch b = store.newBatch(); PageHandle h = store.fixExclusive(page)) {
                    b.write(h, 0, chunk);
                    b.commit();
                }
            }
            long lsn = store.checkpoint();
            assertEquals(store.stats().durableLsn(), lsn);
            try (WriteBatch b = store.newBatch(); PageHandle h = store.fixExclusive(page)) {
                b.write(h, 65535, new byte[] {9});
                b.commit();
            }
        }
        try (PageStore store = PageStore.open(dir, small())) {
            try (PageHandle h = store.fixShared(page)) {
                assertEquals(59, h.read(0, 1)[0]);
                assertEquals(9, h.read(65535, 1)[0]);
            }
        }
    }

    @Test
    void aBatchMayAllocateMorePagesThanThePoolHoldsAndTheyOutliveCheckpointsAndCrashes() {
        int pages = 3000; // 3000 x 4 KiB + 10 x 256 KiB through a 4 MiB pool
        List<Long> ids = new ArrayList<>();
        try (PageStore store = PageStore.open(dir, small())) {
            try (WriteBatch b = store.newBatch()) {
                for (int i = 0; i < pages; i++) {
                    ids.add(b.allocate(4096));
                }
                for (int i = 0; i < 10; i++) {
                    ids.add(b.allocate(256 * 1024));
                }
                b.commit();
            }
            assertTrue(store.stats().pool().residentBytes() <= 4L << 20);
            store.checkpoint(); // the allocations now live in the page file; the log may be trimmed
            long last = ids.get(ids.size() - 1);
            byte[] filler = new byte[200_000];
            for (int i = 0; i < 12; i++) { // ~2.4 MiB of log: the segment holding the allocations seals
                try (WriteBatch b = store.newBatch(); PageHandle h = store.fixExclusive(last)) {
                    b.write(h, 0, filler);
                    b.putLong(h, 256 * 1024 - 8, 77);
                    b.commit();
                }
            }
            store.checkpoint(); // and is trimmed
        }
        java.io.File[] segments = dir.resolve("log").toFile().listFiles();
        assertTrue(segments != null && segments.length <= 2, "old segments were trimmed: " + java.util.Arrays.toString(segments));
        try (PageStore store = PageStore.open(dir, small())) {
            assertEquals(ids.size(), store.stats().allocatedPages());
            for (long id : ids) {
                assertTrue(store.isAllocated(id));
            }
            assertEquals(256 * 1024, store.pageSize(ids.get(ids.size() - 1)));
            try (PageHandle h = store.fixShared(ids.get(ids.size() - 1))) {
                assertEquals(77, h.getLong(256 * 1024 - 8));
            }
            try (PageHandle h = store.fixShared(ids.get(1234))) {
                assertEquals(0, h.getLong(0));
            }
            // a new allocation continues after the old ones
            long fresh = store.allocate(4096);
            assertTrue(ids.stream().noneMatch(id -> id == fresh));
        }
    }

    @Test
    void aCheckpointLeavesNewPagesAlreadyWrittenBackUnreadAndTheyOutliveACrash(@TempDir Path images) throws Exception {
        int pages = 3000; // 12 MiB of new 4 KiB pages, each written, through a 4 MiB pool
        List<Long> ids = new ArrayList<>();
        Path image;
        java.util.Set<String> allocatingSegments;
        try (PageStore store = PageStore.open(dir, small())) {
            for (int i = 0; i < pages; i += 100) {
                try (WriteBatch b = store.newBatch()) {
                    for (int j = i; j < i + 100; j++) {
                        long id = b.allocate(4096);
                        ids.add(id);
                        try (PageHandle h = store.fixExclusive(id)) {
                            b.putLong(h, 8 * (j % 500), 1_000_000L + j);
                        }
                    }
                    b.commit();
                }
            }
            allocatingSegments = java.util.Set.of(dir.resolve("log").toFile().list());
            PageStoreStats before = store.stats();
            assertTrue(before.pool().evictions() > pages / 2, "most new pages left the pool: " + before);
            store.checkpoint();
            PageStoreStats after = store.stats();
            // the evicted ones were written back with their allocation: the checkpoint reads none of them
            assertEquals(before.pool().bytesRead(), after.pool().bytesRead(), "checkpoint read pages back");
            assertEquals(before.pool().misses(), after.pool().misses(), "checkpoint faulted pages in");
            assertTrue(store.materializeSkips() > pages / 2, "skipped " + store.materializeSkips());
            byte[] filler = new byte[4000];
            for (int i = 0; i < 12; i++) { // ~2.4 MiB of log over the first 50 pages: older segments seal
                try (WriteBatch b = store.newBatch()) {
                    for (int k = 0; k < 50; k++) {
                        try (PageHandle h = store.fixExclusive(ids.get(k))) {
                            b.write(h, 0, filler);
                        }
                    }
                    b.commit();
                }
            }
            store.checkpoint(); // the log that allocated them is trimmed
            image = crashImage(dir, images.resolve("crash"));
        }
        List<String> left = List.of(image.resolve("log").toFile().list());
        assertTrue(left.stream().noneMatch(allocatingSegments::contains),
                "the segments that logged the allocations were trimmed: " + allocatingSegments + " -> " + left);
        try (PageStore store = PageStore.open(image, small())) {
            assertEquals(ids.size(), store.stats().allocatedPages());
            for (int j = 50; j < pages; j++) {
                try (PageHandle h = store.fixShared(ids.get(j))) {
                    assertEquals(1_000_000L + j, h.getLong(8 * (j % 500)), "page " + j);
                }
            }
        }
    }

    /**
     * A checkpoint skips a page pinned by an open batch; if that batch then commits and the page is written back
     * (deferred: durable only at the tier's next sync) while the checkpoint syncs the tier, the checkpoint must still
     * count the page's older committed change as not durable. Counting dirty pages after the sync lost it.
     */
    @Test
    void aPageWrittenBackDuringACheckpointsSyncKeepsItsChangesThroughACrash(@TempDir Path images) throws Exception {
        long page;
        Path image;
        try (PageStore store = PageStore.open(dir, small())) {
            try (WriteBatch b = store.newBatch()) {
                page = b.allocate(4096);
                b.commit();
            }
            store.checkpoint();
            put(store, page, 0, bytes("committed before the checkpoint"));
            WriteBatch open = store.newBatch();
            try (PageHandle h = store.fixExclusive(page)) {
                open.write(h, 100, bytes("committed during it"));
            }
            AtomicBoolean ran = new AtomicBoolean();
            store.afterTierSync(() -> {
                if (ran.compareAndSet(false, true)) {
                    open.commit();
                    open.close();
                    store.writeBackDirty(); // as the evictor may, right after the sync
                }
            });
            store.checkpoint();
            assertTrue(ran.get());
            image = crashImage(dir, images.resolve("crash"));
        }
        try (PageStore store = PageStore.open(image, small()); PageHandle h = store.fixShared(page)) {
            assertEquals("committed before the checkpoint", new String(h.read(0, 31), StandardCharsets.UTF_8));
            assertEquals("committed during it", new String(h.read(100, 19), StandardCharsets.UTF_8));
        }
    }

    @Test
    void aRecoveryReportsWhatItReplayedInItsLogAndMetrics(@TempDir Path images) throws Exception {
        Path image;
        long durable;
        long checkpointed;
        long logged;
        try (PageStore store = PageStore.open(dir, small())) {
            long page = store.allocate(4096);
            store.checkpoint();
            for (int i = 0; i < 40; i++) {
                put(store, page, 8 * i, bytes("record " + i));
            }
            durable = store.stats().durableLsn();
            checkpointed = store.stats().checkpointLsn();
            logged = store.stats().logBytes();
            assertEquals(0, store.recovery().records(), "a new store replays nothing");
            assertEquals(0, store.recovery().bytes());
            image = crashImage(dir, images.resolve("crash"));
        }
        java.util.logging.Logger jul = java.util.logging.Logger.getLogger(PageStore.class.getName());
        List<String> lines = java.util.Collections.synchronizedList(new ArrayList<>());
        java.util.logging.Handler capture = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord r) {
                lines.add(java.text.MessageFormat.format(r.getMessage(),
                        r.getParameters() == null ? new Object[0] : r.getParameters()));
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        jul.addHandler(capture);
        try (PageStore store = PageStore.open(image, small())) {
            PageStore.RecoveryStats r = store.recovery();
            assertEquals(durable - checkpointed, r.records(), "the records after the checkpoint: " + r);
            assertEquals(40, r.records());
            assertTrue(r.bytes() > 0 && r.bytes() <= logged, "replayed " + r.bytes() + " of " + logged + " bytes");
            assertTrue(r.nanos() > 0);
            var registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
            StoreMetrics.bind(store, registry);
            assertEquals(40.0, registry.get("strata.store.recovery.records").gauge().value());
            assertEquals((double) r.bytes(), registry.get("strata.store.recovery.bytes").gauge().value());
            assertTrue(registry.get("strata.store.recovery.seconds").gauge().value() > 0);
            assertTrue(lines.stream().anyMatch(l -> l.startsWith("recovered page store " + image)
                    && l.contains("replayed 40 log records")), "log lines: " + lines);
        } finally {
            jul.removeHandler(capture);
        }
        try (PageStore store = PageStore.open(image, small())) {
            assertEquals(0, store.recovery().records(), "a clean close left nothing to replay");
        }
    }

    /**
     * A crash image of a running store: its files as they are now (the commits so far are durable in them).
     * Copied with {@code cp --sparse=always}: the page file's apparent size is over 8 TiB, nearly all holes.
     */
    private static Path crashImage(Path from, Path to) throws Exception {
        Process cp = new ProcessBuilder("cp", "-r", "--sparse=always", from.toString(), to.toString())
                .redirectErrorStream(true).start();
        String out = new String(cp.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, cp.waitFor(), "cp failed: " + out);
        return to;
    }

    private static void put(PageStore store, long page, int offset, byte[] bytes) {
        try (WriteBatch b = store.newBatch(); PageHandle h = store.fixExclusive(page)) {
            b.write(h, offset, bytes);
            b.commit();
        }
    }

    @Test
    void aFreedPageIsGoneAtOnceAndHandedOutAgainZeroedOnlyAfterACheckpoint(@TempDir Path images) throws Exception {
        Path dirty;
        Path freedOnly;
        long a;
        long b;
        try (PageStore store = PageStore.open(dir, small())) {
            a = store.allocate(16384);
            b = store.allocate(16384);
            put(store, a, 0, bytes("old life of a"));
            put(store, b, 0, bytes("b stays"));
            store.checkpoint();
            put(store, a, 100, bytes("changed after the checkpoint"));
            try (WriteBatch batch = store.newBatch()) {
                batch.free(a);
                assertThrows(IllegalStateException.class, () -> batch.free(a), "freed twice in one batch");
                try (PageHandle h = store.fixExclusive(b)) {
                    batch.write(h, 50, bytes("and b changed"));
                }
                batch.commit();
            }
            assertTrue(!store.isAllocated(a));
            assertThrows(IllegalArgumentException.class, () -> store.fixShared(a));
            assertEquals(1, store.stats().freePages());
            long c = store.allocate(16384);
            assertTrue(c != a, "not handed out before a checkpoint recorded the free");
            dirty = crashImage(dir, images.resolve("free-in-log"));
            store.checkpoint();
            freedOnly = crashImage(dir, images.resolve("free-recorded"));
            long again = store.allocate(16384);
            assertEquals(a, again, "handed out again after the checkpoint");
            try (PageHandle h = store.fixShared(again)) {
                assertArrayEquals(new byte[16384], h.read(0, 16384), "a reused page starts zeroed");
            }
            put(store, again, 0, bytes("new life of a"));
            assertEquals(0, store.stats().freePages());
            Path reused = crashImage(dir, images.resolve("reused"));
            try (PageStore r = PageStore.open(reused, small())) { // redo of the new life onto the freed page
                try (PageHandle h = r.fixShared(a)) {
                    assertArrayEquals(bytes("new life of a"), h.read(0, 13));
                    assertArrayEquals(new byte[28], h.read(100, 28), "nothing of the old life");
                }
            }
        }
        try (PageStore store = PageStore.open(dirty, small())) { // redo of the free itself
            assertTrue(!store.isAllocated(a));
            try (PageHandle h = store.fixShared(b)) {
                assertArrayEquals(bytes("and b changed"), h.read(50, 13));
            }
            assertEquals(1, store.stats().freePages());
            store.checkpoint();
            assertEquals(a, store.allocate(16384));
        }
        try (PageStore store = PageStore.open(freedOnly, small())) { // the free recorded in the page file
            assertTrue(!store.isAllocated(a));
            assertEquals(1, store.stats().freePages());
            assertEquals(a, store.allocate(16384), "the page file's freed pages are handed out after a reopen");
        }
        try (PageStore store = PageStore.open(dir, small())) {
            try (PageHandle h = store.fixShared(a)) {
                assertArrayEquals(bytes("new life of a"), h.read(0, 13));
            }
        }
    }

    @Test
    void redoSkipsTheChangesOfAPageRecordedFreedBeforeTheCheckpointCoveringItsFreeWasWritten(@TempDir Path images)
            throws Exception {
        long a;
        long b;
        Path image;
        try (PageStore store = PageStore.open(dir, small())) {
            a = store.allocate(16384);
            b = store.allocate(4096);
            store.checkpoint();
            put(store, a, 0, bytes("logged after the checkpoint"));
            try (WriteBatch batch = store.newBatch()) {
                batch.free(a);
                batch.commit();
            }
            put(store, b, 0, bytes("b"));
            image = crashImage(dir, images.resolve("crash"));
        }
        // the crash came after the page file recorded the free, before the checkpoint covering it was written
        try (dev.strata.storage.PageFile pf = dev.strata.storage.PageFile.open(image.resolve("pages"))) {
            pf.markFreed(new long[] {PageId.pageNumber(a)}, new int[] {2});
        }
        try (PageStore store = PageStore.open(image, small())) {
            assertTrue(!store.isAllocated(a));
            try (PageHandle h = store.fixShared(b)) {
                assertArrayEquals(bytes("b"), h.read(0, 1));
            }
            store.checkpoint();
            assertEquals(a, store.allocate(16384));
            try (PageHandle h = store.fixShared(a)) {
                assertArrayEquals(new byte[27], h.read(0, 27));
            }
        }
    }

    @Test
    void aFreeIsNotReusedWhileADirtyPageHoldsTheCheckpointBelowIt() {
        try (PageStore store = PageStore.open(dir, small())) {
            long held = store.allocate(4096);
            long freed = store.allocate(16384);
            long other = store.allocate(4096);
            store.checkpoint();
            put(store, other, 0, bytes("lets the next checkpoint move")); // written back by it
            put(store, held, 0, bytes("dirty since before the free"));
            try (WriteBatch b = store.newBatch()) {
                b.free(freed);
                b.commit();
            }
            try (WriteBatch open = store.newBatch(); PageHandle h = store.fixExclusive(held)) {
                open.write(h, 100, bytes("pinned")); // an open batch pins the page: it is not written back
                long before = store.stats().checkpointLsn();
                long lsn = store.checkpoint();
                assertTrue(lsn > before && lsn < store.stats().durableLsn(),
                        "the checkpoint moved, but the pinned dirty page held it below the free: "
                                + before + " -> " + lsn);
                assertTrue(store.allocate(16384) != freed, "not reusable before a checkpoint covers its free");
            }
            store.checkpoint();
            assertEquals(freed, store.allocate(16384));
        }
    }

    @Test
    void freeingMisuseGivesClearErrorsAndAnAbortKeepsThePage() {
        try (PageStore store = PageStore.open(dir, small())) {
            long a = store.allocate(4096);
            put(store, a, 0, bytes("kept"));
            try (WriteBatch other = store.newBatch(); PageHandle h = store.fixExclusive(a)) {
                other.write(h, 10, bytes("open"));
                try (WriteBatch batch = store.newBatch()) {
                    assertThrows(IllegalStateException.class, () -> batch.free(a), "changed by another open batch");
                }
            }
            try (WriteBatch batch = store.newBatch(); PageHandle h = store.fixExclusive(a)) {
                batch.free(a);
                assertThrows(IllegalStateException.class, () -> batch.write(h, 0, bytes("x")),
                        "written after its free");
            } // aborted
            assertTrue(store.isAllocated(a));
            try (PageHandle h = store.fixShared(a)) {
                assertArrayEquals(bytes("kept"), h.read(0, 4));
            }
            try (WriteBatch batch = store.newBatch()) {
                assertThrows(IllegalArgumentException.class, () -> batch.free(PageId.of(0, 999_999)));
            }
        }
    }

    @Test
    void aStoreHoldsTheConfiguredPartition() {
        try (PageStore store = PageStore.open(dir, small().withPartition(3))) {
            long page = store.allocate(4096);
            assertEquals(3, PageId.partition(page));
            assertThrows(IllegalArgumentException.class, () -> store.fixShared(PageId.of(0, PageId.pageNumber(page))));
        }
    }

    @Test
    void aPageThatEveryBatchChangesDoesNotHoldTheCheckpointBackForever() throws Exception {
        // like a B-tree root: some open batch pins the page nearly all the time, so the checkpoint's flush
        // (which skips pinned pages) would never write it, and the checkpoint LSN would stay below its first change
        long page;
        long last;
        try (PageStore store = PageStore.open(dir, small())) {
            page = store.allocate(4096);
            AtomicLong lastCommitted = new AtomicLong();
            AtomicBoolean stop = new AtomicBoolean();
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                for (long i = 1; !stop.get(); i++) {
                    try (WriteBatch b = store.newBatch()) {
                        try (PageHandle h = store.fixExclusive(page)) {
                            b.putLong(h, 0, i);
                        }
                        LockSupport.parkNanos(2_000_000); // the batch stays open
                        lastCommitted.set(b.commit());
                    }
                }
            });
            try {
                awaitCommitsPast(lastCommitted, 5, writer);
                long before = lastCommitted.get();
                store.checkpoint();
                awaitCommitsPast(lastCommitted, before + 3, writer);
                store.checkpoint(); // a page dirty since the previous checkpoint is now written by its next batch
                awaitCommitsPast(lastCommitted, lastCommitted.get() + 3, writer);
                long ckpt = store.checkpoint();
                assertTrue(ckpt >= before, "checkpoint LSN " + ckpt + " stayed below " + before
                        + ": the page changed by every batch was never written back");
            } finally {
                stop.set(true);
                writer.join();
            }
            last = lastCommitted.get();
            try (PageHandle h = store.fixShared(page)) {
                assertEquals(last - 1, h.getLong(0)); // batch i committed at LSN i + 1 (LSN 1: the allocation)
            }
        }
        try (PageStore store = PageStore.open(dir, small()); PageHandle h = store.fixShared(page)) {
            assertEquals(last - 1, h.getLong(0));
        }
    }

    private static void awaitCommitsPast(AtomicLong lsn, long target,
            CompletableFuture<Void> writer) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (lsn.get() < target) {
            assertTrue(System.nanoTime() < deadline && !writer.isDone(), "writer stalled at LSN " + lsn.get());
            Thread.sleep(1);
        }
    }

    @Test
    void aCheckpointKeepsTheAllocationRecordOfAPageThatCannotBeWrittenYet() {
        try (PageStore store = PageStore.open(dir, small())) {
            long allocLsn;
            long page;
            try (WriteBatch b = store.newBatch()) {
                page = b.allocate(4096);
                allocLsn = b.commit();
            }
            try (WriteBatch b = store.newBatch(); PageHandle h = store.fixExclusive(page)) {
                b.putLong(h, 0, 1); // a later committed change: the page is dirty from this LSN on
                b.commit();
            }
            try (WriteBatch open = store.newBatch()) {
                try (PageHandle h = store.fixExclusive(page)) {
                    open.putLong(h, 8, 2); // pinned: the checkpoint cannot write the page
                }
                long ckpt = store.checkpoint();
                assertTrue(ckpt < allocLsn, "checkpoint " + ckpt + " passed the allocation at " + allocLsn
                        + " of a page not yet in the page file");
            }
        }
    }

    @Test
    void anAttachmentIsMadeOncePerClassAndANullOneIsRefused() {
        try (PageStore store = PageStore.open(dir, small())) {
            StringBuilder first = store.attachment(StringBuilder.class, StringBuilder::new);
            assertSame(first, store.attachment(StringBuilder.class, () -> new StringBuilder("another")));
            ArrayList<?> other = store.attachment(ArrayList.class, ArrayList::new);
            assertNotSame(first, other);
            NullPointerException e = assertThrows(NullPointerException.class,
                    () -> store.attachment(Integer.class, () -> null));
            assertTrue(e.getMessage().contains("java.lang.Integer"), e.getMessage());
            assertSame(first, store.attachment(StringBuilder.class, () -> null), "a made attachment stays");
        }
    }
}
