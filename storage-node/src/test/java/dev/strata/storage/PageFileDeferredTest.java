package dev.strata.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.core.PageSize;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link PageFile#writeDeferred}: readers see the images at once, {@code pages.meta} on disk names them only
 * after {@link PageFile#sync}, so a crash before it leaves every page as at the last sync. A second instance
 * opened on the same directory sees what a process restarted after a crash would: the descriptors on disk.
 */
@Timeout(60)
class PageFileDeferredTest {
    @TempDir
    Path dir;

    /** Half random, half zeros: stored compressed (two of four blocks) when the file compresses. */
    private static PageImage image(long pageNo, int sizeClass, long lsn) {
        byte[] bytes = new byte[PageSize.bytes(sizeClass)];
        Random r = new Random(pageNo * 31 + lsn);
        for (int i = 0; i < bytes.length / 2; i++) {
            bytes[i] = (byte) r.nextInt();
        }
        return new PageImage(pageNo, sizeClass, lsn, MemorySegment.ofArray(bytes));
    }

    private static void assertReads(PageFile file, PageImage expected) throws IOException {
        MemorySegment dst = MemorySegment.ofArray(new byte[PageSize.bytes(expected.sizeClass())]);
        assertEquals(expected.lsn(), file.read(expected.pageNo(), dst), "LSN of page " + expected.pageNo());
        assertArrayEquals(expected.bytes().toArray(ValueLayout.JAVA_BYTE), dst.toArray(ValueLayout.JAVA_BYTE),
                "bytes of page " + expected.pageNo());
    }

    @Test
    void deferredImagesAreReadAtOnceAndOnDiskOnlyAfterSync() throws IOException {
        for (boolean compress : new boolean[] {true, false}) {
            Path d = dir.resolve("compress-" + compress);
            List<PageImage> v1 = List.of(image(0, 2, 1), image(4, 2, 1), image(100, 0, 1));
            List<PageImage> v2 = List.of(image(0, 2, 2), image(4, 2, 2), image(100, 0, 2));
            List<PageImage> v3 = List.of(image(0, 2, 3), image(100, 0, 3)); // over pending images, in place
            try (PageFile file = PageFile.open(d, compress)) {
                file.write(v1); // durable
                file.writeDeferred(v2);
                for (PageImage p : v2) {
                    assertReads(file, p);
                    assertEquals(2, file.meta(p.pageNo()).lsn());
                }
                file.writeDeferred(v3);
                assertReads(file, v3.get(0));
                assertReads(file, v3.get(1));
                assertReads(file, v2.get(1));
                // a crash now: the descriptors on disk still name v1, whose slots no deferred write touched
                try (PageFile restarted = PageFile.open(d, compress)) {
                    for (PageImage p : v1) {
                        assertReads(restarted, p);
                    }
                }
                file.sync();
                try (PageFile restarted = PageFile.open(d, compress)) {
                    assertReads(restarted, v3.get(0));
                    assertReads(restarted, v2.get(1));
                    assertReads(restarted, v3.get(1));
                }
                // the next deferred write goes to the slot v1 was in: the synced image stays untouched
                file.writeDeferred(List.of(image(0, 2, 4)));
                try (PageFile restarted = PageFile.open(d, compress)) {
                    assertReads(restarted, v3.get(0));
                }
                assertReads(file, image(0, 2, 4));
            }
            // a clean close syncs what is pending
            try (PageFile file = PageFile.open(d, compress)) {
                assertReads(file, image(0, 2, 4));
            }
        }
    }

    @Test
    void aDeferredWriteSyncsByItselfOnceEnoughIsPending() throws IOException {
        try (PageFile file = PageFile.open(dir, false)) {
            List<PageImage> pages = new ArrayList<>();
            for (int p = 0; p < PageFile.SYNC_PENDING_PAGES; p++) {
                pages.add(image(p, 0, 7));
            }
            file.writeDeferred(pages.subList(0, 100));
            try (PageFile restarted = PageFile.open(dir, false)) {
                assertEquals(0, restarted.meta(99).lsn(), "not yet synced");
            }
            file.writeDeferred(pages.subList(100, pages.size()));
            try (PageFile restarted = PageFile.open(dir, false)) {
                assertEquals(7, restarted.meta(0).lsn(), "synced with the write that reached the bound");
                assertEquals(7, restarted.meta(PageFile.SYNC_PENDING_PAGES - 1).lsn());
            }
        }
    }

    @Test
    void freeingAPageWithAPendingImageKeepsItsCurrentSlot() throws IOException {
        try (PageFile file = PageFile.open(dir)) {
            file.write(List.of(image(8, 1, 1)));
            file.writeDeferred(List.of(image(8, 1, 2)));
            file.markFreed(8);
            assertFalse(file.meta(8).allocated());
            List<Long> freed = new ArrayList<>();
            file.forEachFreed(m -> freed.add(m.pageNo()));
            assertEquals(List.of(8L), freed);
            // written again: into the slot the freed descriptor does not name, so image 2's slot is kept
            file.write(List.of(image(8, 1, 3)));
            assertReads(file, image(8, 1, 3));
        }
        try (PageFile file = PageFile.open(dir)) {
            assertReads(file, image(8, 1, 3));
        }
    }

    @Test
    void aFailedSyncLeavesThePagesAsAtTheLastSyncAndRefusesWrites() throws IOException {
        try (PageFile file = PageFile.open(dir)) {
            file.write(List.of(image(0, 0, 1), image(1, 0, 1), image(2, 0, 1)));
            file.writeDeferred(List.of(image(0, 0, 2), image(1, 0, 2), image(2, 0, 2)));
            file.onFlip(n -> {
                if (n == 2) {
                    throw new IOException("crash after two descriptor switches");
                }
            });
            assertThrows(IOException.class, file::sync);
            assertThrows(IOException.class, () -> file.writeDeferred(List.of(image(0, 0, 3))));
        }
        try (PageFile file = PageFile.open(dir)) {
            assertReads(file, image(0, 0, 2)); // switched before the crash, in page order
            assertReads(file, image(1, 0, 2));
            assertReads(file, image(2, 0, 1)); // not switched: its previous image, untouched
        }
    }

    @Test
    void readersNeverSeeAHalfWrittenPendingImage() throws Exception {
        try (PageFile file = PageFile.open(dir)) {
            file.write(List.of(image(3, 2, 1)));
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread reader = new Thread(() -> {
                MemorySegment dst = MemorySegment.ofArray(new byte[PageSize.bytes(2)]);
                try {
                    while (!stop.get()) {
                        long lsn = file.read(3, dst); // a torn image would fail its CRC here
                        byte[] want = image(3, 2, lsn).bytes().toArray(ValueLayout.JAVA_BYTE);
                        if (!Arrays.equals(want, dst.toArray(ValueLayout.JAVA_BYTE))) {
                            throw new AssertionError("page 3 read with LSN " + lsn + " has other bytes");
                        }
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            reader.start();
            try {
                for (long lsn = 2; lsn < 3_000 && failure.get() == null; lsn++) {
                    file.writeDeferred(List.of(image(3, 2, lsn))); // all but every few hundredth over a pending one
                    if (lsn % 500 == 0) {
                        file.sync();
                    }
                }
            } finally {
                stop.set(true);
                reader.join();
            }
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
            assertTrue(file.meta(3).lsn() >= 2);
        }
    }

    /**
     * A sync writes its descriptors to {@code pages.meta} while readers go on (they go by the pending descriptors
     * until the sync drops them): readers of many pages across many syncs always read a whole image, never an older
     * one than they read before, and after each sync the newest.
     */
    @Test
    void readersAcrossSyncsSeeEveryPageWholeAndNeverGoingBack() throws Exception {
        int pages = 64;
        try (PageFile file = PageFile.open(dir)) {
            List<PageImage> first = new java.util.ArrayList<>();
            for (int p = 0; p < pages; p++) {
                first.add(image(p, 0, 1));
            }
            file.write(first);
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            long[] seen = new long[pages];
            Thread reader = new Thread(() -> {
                MemorySegment dst = MemorySegment.ofArray(new byte[PageSize.bytes(0)]);
                try {
                    for (int i = 0; !stop.get(); i++) {
                        int p = i % pages;
                        long lsn = file.read(p, dst); // a torn image would fail its CRC here
                        byte[] want = image(p, 0, lsn).bytes().toArray(ValueLayout.JAVA_BYTE);
                        if (!Arrays.equals(want, dst.toArray(ValueLayout.JAVA_BYTE)) || lsn < seen[p]) {
                            throw new AssertionError("page " + p + " read with LSN " + lsn + " after " + seen[p]);
                        }
                        seen[p] = lsn;
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            reader.start();
            try {
                for (long lsn = 2; lsn <= 200 && failure.get() == null; lsn++) {
                    List<PageImage> round = new java.util.ArrayList<>();
                    for (int p = 0; p < pages; p++) {
                        round.add(image(p, 0, lsn));
                    }
                    file.writeDeferred(round);
                    file.sync();
                    for (int p = 0; p < pages; p += 13) {
                        assertEquals(lsn, file.meta(p).lsn(), "page " + p + " after the sync of LSN " + lsn);
                    }
                }
            } finally {
                stop.set(true);
                reader.join();
            }
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
        }
        try (PageFile file = PageFile.open(dir)) {
            for (int p = 0; p < pages; p++) {
                assertReads(file, image(p, 0, 200));
            }
        }
    }
}
