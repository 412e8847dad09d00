package dev.strata.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.core.Checksums;
import dev.strata.core.CorruptionException;
import dev.strata.core.PageSize;
import dev.strata.storage.internal.DoubleWriteBuffer;
import dev.strata.storage.internal.PageMetaDescriptor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(30)
class PageFileTest {
    @TempDir
    Path dir;

    private static PageImage image(long pageNo, int sizeClass, long lsn) {
        byte[] bytes = new byte[PageSize.bytes(sizeClass)];
        new Random(pageNo * 31 + lsn).nextBytes(bytes);
        return new PageImage(pageNo, sizeClass, lsn, MemorySegment.ofArray(bytes));
    }

    private static byte[] readBytes(PageFile file, long pageNo, int sizeClass, long expectedLsn) throws IOException {
        MemorySegment dst = MemorySegment.ofArray(new byte[PageSize.bytes(sizeClass)]);
        assertEquals(expectedLsn, file.read(pageNo, dst));
        return dst.toArray(ValueLayout.JAVA_BYTE);
    }

    private static byte[] bytesOf(PageImage image) {
        return image.bytes().toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void roundTripsPagesOfSeveralSizeClasses() throws IOException {
        List<PageImage> pages = List.of(image(0, 0, 10), image(1, 1, 11), image(3, 2, 12), image(64, 6, 13),
                image(7, 0, 14));
        try (PageFile file = PageFile.open(dir)) {
            file.write(pages);
            for (PageImage page : pages) {
                assertArrayEquals(bytesOf(page), readBytes(file, page.pageNo(), page.sizeClass(), page.lsn()));
            }
            assertEquals(128, file.slotsInUse());
        }
        try (PageFile file = PageFile.open(dir); Arena arena = Arena.ofConfined()) {
            for (PageImage page : pages) {
                MemorySegment dst = arena.allocate(PageSize.bytes(page.sizeClass()));
                assertEquals(page.lsn(), file.read(page.pageNo(), dst));
                assertArrayEquals(bytesOf(page), dst.toArray(ValueLayout.JAVA_BYTE));
            }
            assertEquals(128, file.slotsInUse());
        }
    }

    @Test
    void overwritesKeepTheNewestImage() throws IOException {
        try (PageFile file = PageFile.open(dir)) {
            file.write(List.of(image(5, 1, 1)));
            PageImage newer = image(5, 1, 2);
            file.write(List.of(newer));
            assertArrayEquals(bytesOf(newer), readBytes(file, 5, 1, 2));
        }
    }

    @Test
    void neverWrittenPagesReadAsZeros() throws IOException {
        try (PageFile file = PageFile.open(dir)) {
            file.write(List.of(image(2, 0, 1)));
            assertArrayEquals(new byte[PageSize.bytes(2)], readBytes(file, 100, 2, 0));
            assertFalse(file.meta(100).allocated());
            assertEquals(0, file.meta(100).lsn());
        }
    }

    @Test
    void rejectsAWrongBufferSize() throws IOException {
        try (PageFile file = PageFile.open(dir)) {
            file.write(List.of(image(0, 1, 1)));
            assertThrows(IllegalArgumentException.class,
                    () -> file.read(0, MemorySegment.ofArray(new byte[PageSize.bytes(0)])));
            assertThrows(IllegalArgumentException.class, () -> file.read(9, MemorySegment.ofArray(new byte[100])));
            assertThrows(IllegalArgumentException.class,
                    () -> new PageImage(0, 1, 1, MemorySegment.ofArray(new byte[PageSize.bytes(0)])));
        }
    }

    @Test
    void detectsACorruptedPage() throws IOException {
        try (PageFile file = PageFile.open(dir)) {
            file.write(List.of(image(1, 0, 4)));
            file.write(List.of(image(1, 0, 5)));
            file.write(List.of(image(2, 0, 6)));
            scribble(dir.resolve("pages.dat"), staleSlotOffset(1) + 100); // the slot no descriptor names
            assertArrayEquals(bytesOf(image(1, 0, 5)), readBytes(file, 1, 0, 5));
            scribble(dir.resolve("pages.dat"), currentSlotOffset(1) + 100);
            assertThrows(CorruptionException.class, () -> readBytes(file, 1, 0, 5));
            readBytes(file, 2, 0, 6);
        }
        try (PageFile file = PageFile.open(dir)) {
            assertThrows(CorruptionException.class, () -> readBytes(file, 1, 0, 5));
        }
    }

    @Test
    void aPageWhoseDescriptorSwitchWasLostReadsItsPreviousImage() throws IOException {
        PageImage older = image(3, 0, 41);
        try (PageFile file = PageFile.open(dir)) {
            file.write(List.of(older, image(4, 0, 41)));
            byte[] before = descriptorBytes(3);
            file.write(List.of(image(3, 0, 42), image(4, 0, 42)));
            // roll page 3's descriptor back, as if the crash came after page 4's switch reached the disk but
            // before page 3's did
            writeDescriptorBytes(3, before);
        }
        try (PageFile file = PageFile.open(dir)) {
            assertEquals(41, file.meta(3).lsn());
            assertArrayEquals(bytesOf(older), readBytes(file, 3, 0, 41));
            assertArrayEquals(bytesOf(image(4, 0, 42)), readBytes(file, 4, 0, 42));
            file.write(List.of(image(3, 0, 43))); // into the slot holding the lost lsn-42 image
            assertArrayEquals(bytesOf(image(3, 0, 43)), readBytes(file, 3, 0, 43));
        }
        try (PageFile file = PageFile.open(dir)) {
            assertArrayEquals(bytesOf(image(3, 0, 43)), readBytes(file, 3, 0, 43));
        }
    }

    @Test
    void splitsLargeListsIntoChunks() throws IOException {
        List<PageImage> pages = new ArrayList<>();
        for (int i = 0; i < 260; i++) {
            pages.add(image(i * 64L, 6, 100 + i)); // 260 x 256 KiB > one 64 MiB chunk
        }
        int[] chunks = {0};
        try (PageFile file = PageFile.open(dir)) {
            file.onFlip(n -> chunks[0] += n == 0 ? 1 : 0);
            file.write(pages);
        }
        assertEquals(2, chunks[0]);
        try (PageFile file = PageFile.open(dir)) {
            for (PageImage page : pages) {
                assertArrayEquals(bytesOf(page), readBytes(file, page.pageNo(), 6, page.lsn()));
            }
        }
    }

    @Test
    void scansAllocatedPagesAndFreesThem() throws IOException {
        try (PageFile file = PageFile.open(dir)) {
            assertEquals(0, file.slotsInUse());
            file.write(List.of(image(0, 0, 1), image(8, 2, 2), image(5000, 1, 3)));
            assertEquals(5002, file.slotsInUse());
            List<PageMeta> metas = new ArrayList<>();
            file.forEachAllocated(metas::add);
            assertEquals(List.of(0L, 8L, 5000L), metas.stream().map(PageMeta::pageNo).toList());
            assertEquals(2, metas.get(1).sizeClass());
            assertEquals(3, metas.get(2).lsn());
            assertTrue(metas.stream().allMatch(PageMeta::allocated));

            file.markFreed(5000);
            assertFalse(file.meta(5000).allocated());
            assertEquals(12, file.slotsInUse());
            assertArrayEquals(new byte[PageSize.bytes(1)], readBytes(file, 5000, 1, 0));
        }
        try (PageFile file = PageFile.open(dir)) {
            List<PageMeta> metas = new ArrayList<>();
            file.forEachAllocated(metas::add);
            assertEquals(List.of(0L, 8L), metas.stream().map(PageMeta::pageNo).toList());
            assertEquals(12, file.slotsInUse());
            PageMeta meta = file.meta(8);
            assertEquals(new PageMeta(8, 2, meta.crc(), 2, true), meta);
        }
    }

    @Test
    void pagesMarkedFreedTogetherAreListedWithTheirSizeClassUntilWrittenAgain() throws IOException {
        try (PageFile file = PageFile.open(dir)) {
            file.write(List.of(image(0, 0, 1), image(8, 2, 2), image(40, 1, 3)));
            // 8 was written, 100 never was (allocated and freed before any write-back)
            file.markFreed(new long[] {8, 100}, new int[] {2, 3});
            assertFalse(file.meta(8).allocated());
            assertFalse(file.meta(100).allocated());
            assertArrayEquals(new byte[PageSize.bytes(2)], readBytes(file, 8, 2, 0));
            assertThrows(IllegalArgumentException.class, () -> file.markFreed(new long[] {1}, new int[0]));
        }
        try (PageFile file = PageFile.open(dir)) {
            List<PageMeta> freed = new ArrayList<>();
            file.forEachFreed(freed::add);
            assertEquals(List.of(8L, 100L), freed.stream().map(PageMeta::pageNo).toList());
            assertEquals(List.of(2, 3), freed.stream().map(PageMeta::sizeClass).toList());
            List<PageMeta> allocated = new ArrayList<>();
            file.forEachAllocated(allocated::add);
            assertEquals(List.of(0L, 40L), allocated.stream().map(PageMeta::pageNo).toList());
            // written again (reused): allocated, no longer freed, and its new image is what reads back
            PageImage again = image(8, 2, 9);
            file.write(List.of(again));
            freed.clear();
            file.forEachFreed(freed::add);
            assertEquals(List.of(100L), freed.stream().map(PageMeta::pageNo).toList());
            assertTrue(file.meta(8).allocated());
            assertArrayEquals(bytesOf(again), readBytes(file, 8, 2, 9));
        }
    }

    @Test
    void readersNeverSeeAHalfWrittenPage() throws Exception {
        try (PageFile file = PageFile.open(dir)) {
            List<PageImage> first = new ArrayList<>();
            for (int p = 0; p < 8; p++) {
                first.add(image(p, 0, 1));
            }
            file.write(first);
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    for (long lsn = 2; lsn <= 60; lsn++) {
                        List<PageImage> batch = new ArrayList<>();
                        for (int p = 0; p < 8; p++) {
                            batch.add(image(p, 0, lsn));
                        }
                        file.write(batch);
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            int reads = 0;
            while (!writer.isDone() || reads == 0) {
                for (int p = 0; p < 8; p++) {
                    MemorySegment dst = MemorySegment.ofArray(new byte[PageSize.BASE]);
                    long lsn = file.read(p, dst);
                    assertArrayEquals(bytesOf(image(p, 0, lsn)), dst.toArray(ValueLayout.JAVA_BYTE));
                    reads++;
                }
            }
            writer.join();
            assertEquals(60, file.meta(7).lsn());
        }
    }

    @Test
    void closeIsIdempotent() throws IOException {
        PageFile file = PageFile.open(dir);
        file.close();
        file.close();
        assertThrows(IllegalStateException.class, () -> file.write(List.of(image(0, 0, 1))));
    }

    @Test
    void alternatesBetweenTheTwoSlotsAndReadsTheNewestAfterReopen() throws IOException {
        for (long lsn = 1; lsn <= 5; lsn++) {
            try (PageFile file = PageFile.open(dir)) {
                file.write(List.of(image(5, 2, lsn), image(12, 0, lsn)));
                assertArrayEquals(bytesOf(image(5, 2, lsn)), readBytes(file, 5, 2, lsn));
            }
            // a page never written names slot A, so its first image goes to B, the next to A, and so on
            long expected = (lsn % 2 == 1 ? PageFile.SLOT_B_BASE : 0) + 5L * PageSize.BASE;
            assertEquals(expected, currentSlotOffset(5));
            try (PageFile file = PageFile.open(dir)) {
                assertArrayEquals(bytesOf(image(5, 2, lsn)), readBytes(file, 5, 2, lsn));
                assertArrayEquals(bytesOf(image(12, 0, lsn)), readBytes(file, 12, 0, lsn));
                if (lsn > 1) { // the previous image is still whole in the other slot
                    assertArrayEquals(bytesOf(image(5, 2, lsn - 1)), readAt(staleSlotOffset(5), PageSize.bytes(2)));
                }
            }
        }
        assertFalse(Files.exists(dir.resolve("pages.dwb")), "new stores have no double-write buffer");
        assertFalse(Files.exists(dir.resolve("pages.probe")), "the file-size probe is deleted");
    }

    @Test
    void aCrashBeforeAnyDescriptorSwitchKeepsThePreviousImages() throws IOException {
        List<PageImage> first = List.of(image(0, 0, 1), image(1, 1, 1), image(9, 3, 1));
        try (PageFile file = PageFile.open(dir)) {
            file.write(first);
            file.write(List.of(image(1, 1, 2))); // page 1 now in slot A, the others in B
            file.onFlip(n -> {
                throw new IOException("crash after the images were synced, before any descriptor switch");
            });
            assertThrows(IOException.class,
                    () -> file.write(List.of(image(0, 0, 3), image(1, 1, 3), image(9, 3, 3))));
        }
        // and a crash in the middle of writing an image: half a newer image and garbage in the stale slots
        writeAt(staleSlotOffset(0), Arrays.copyOf(bytesOf(image(0, 0, 4)), PageSize.BASE / 2));
        scribble(dir.resolve("pages.dat"), staleSlotOffset(9) + PageSize.bytes(3) - 10);
        try (PageFile file = PageFile.open(dir)) {
            assertArrayEquals(bytesOf(image(0, 0, 1)), readBytes(file, 0, 0, 1));
            assertArrayEquals(bytesOf(image(1, 1, 2)), readBytes(file, 1, 1, 2));
            assertArrayEquals(bytesOf(image(9, 3, 1)), readBytes(file, 9, 3, 1));
            file.write(List.of(image(0, 0, 5)));
            assertArrayEquals(bytesOf(image(0, 0, 5)), readBytes(file, 0, 0, 5));
        }
        scribble(dir.resolve("pages.dat"), currentSlotOffset(9) + 7); // real corruption is still caught
        try (PageFile file = PageFile.open(dir)) {
            assertThrows(CorruptionException.class, () -> readBytes(file, 9, 3, 1));
            assertArrayEquals(bytesOf(image(0, 0, 5)), readBytes(file, 0, 0, 5));
        }
    }

    @Test
    void aCrashDuringTheDescriptorSwitchesLeavesEachPageOldOrNew() throws IOException {
        List<PageImage> older = List.of(image(0, 0, 1), image(2, 1, 1), image(4, 0, 1), image(8, 3, 1));
        List<PageImage> newer = List.of(image(0, 0, 2), image(2, 1, 2), image(4, 0, 2), image(8, 3, 2));
        for (int switched = 1; switched < newer.size(); switched++) {
            Path store = dir.resolve("switched-" + switched);
            int stopAfter = switched;
            try (PageFile file = PageFile.open(store)) {
                file.write(older);
                file.onFlip(n -> {
                    if (n == stopAfter) {
                        throw new IOException("crash after " + n + " descriptor writes");
                    }
                });
                assertThrows(IOException.class, () -> file.write(newer));
                // which descriptors are on disk is unknown now: no write may reuse a slot until reopened
                IOException refused = assertThrows(IOException.class, () -> file.write(List.of(image(20, 0, 3))));
                assertTrue(refused.getMessage().contains("reopen"), refused.getMessage());
                assertThrows(IOException.class, () -> file.markFreed(0));
            }
            try (PageFile file = PageFile.open(store)) {
                for (int i = 0; i < newer.size(); i++) {
                    PageImage expected = i < switched ? newer.get(i) : older.get(i);
                    assertArrayEquals(bytesOf(expected),
                            readBytes(file, expected.pageNo(), expected.sizeClass(), expected.lsn()), "page " + i);
                }
                file.write(List.of(image(0, 0, 3), image(8, 3, 3)));
            }
            try (PageFile file = PageFile.open(store)) {
                assertArrayEquals(bytesOf(image(0, 0, 3)), readBytes(file, 0, 0, 3));
                assertArrayEquals(bytesOf(image(8, 3, 3)), readBytes(file, 8, 3, 3));
                assertEquals(switched > 2 ? 2 : 1, file.meta(4).lsn());
            }
        }
    }

    @Test
    void readersNeverSeeATornOrMixedImageOfPagesBeingRewritten() throws Exception {
        int rewrites = 300;
        try (PageFile file = PageFile.open(dir); ExecutorService pool = Executors.newFixedThreadPool(3)) {
            file.write(List.of(image(0, 2, 1), image(4, 0, 1)));
            AtomicBoolean done = new AtomicBoolean();
            List<CompletableFuture<Integer>> readers = new ArrayList<>();
            for (int r = 0; r < 3; r++) {
                readers.add(CompletableFuture.supplyAsync(() -> {
                    long[] seen = {0, 0};
                    int reads = 0;
                    try {
                        while (!done.get() || reads < 10) {
                            for (int i = 0; i < 2; i++) {
                                long pageNo = i == 0 ? 0 : 4;
                                int sizeClass = i == 0 ? 2 : 0;
                                MemorySegment dst = MemorySegment.ofArray(new byte[PageSize.bytes(sizeClass)]);
                                long lsn = file.read(pageNo, dst);
                                assertArrayEquals(bytesOf(image(pageNo, sizeClass, lsn)),
                                        dst.toArray(ValueLayout.JAVA_BYTE), "page " + pageNo + " lsn " + lsn);
                                assertTrue(lsn >= seen[i], "lsn went back from " + seen[i] + " to " + lsn);
                                seen[i] = lsn;
                                reads++;
                            }
                        }
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                    return reads;
                }, pool));
            }
            try {
                for (long lsn = 2; lsn <= rewrites; lsn++) {
                    file.write(List.of(image(0, 2, lsn), image(4, 0, lsn)));
                }
            } finally {
                done.set(true);
            }
            for (CompletableFuture<Integer> reader : readers) {
                assertTrue(reader.get(20, TimeUnit.SECONDS) >= 10);
            }
            assertEquals(rewrites, file.meta(0).lsn());
        }
    }

    @Test
    void aFreedPageReallocatedWithAnotherSizeIsWrittenToItsOtherSlot() throws IOException {
        try (PageFile file = PageFile.open(dir)) {
            file.write(List.of(image(7, 0, 1)));
            file.write(List.of(image(7, 0, 2))); // slot A
            file.markFreed(7);
            assertFalse(file.meta(7).allocated());
            assertEquals(7L * PageSize.BASE, currentSlotOffset(7), "a freed page keeps its slot bit");
            assertArrayEquals(new byte[PageSize.BASE], readBytes(file, 7, 0, 0));
            assertEquals(0, file.slotsInUse());
        }
        try (PageFile file = PageFile.open(dir)) {
            assertFalse(file.meta(7).allocated());
            file.onFlip(n -> {
                throw new IOException("crash before the reallocated page's descriptor switch");
            });
            assertThrows(IOException.class, () -> file.write(List.of(image(7, 1, 3))));
        }
        try (PageFile file = PageFile.open(dir)) {
            assertFalse(file.meta(7).allocated(), "still freed: its new image was never named");
            assertArrayEquals(new byte[PageSize.BASE], readBytes(file, 7, 0, 0));
            file.write(List.of(image(7, 1, 4)));
            assertEquals(PageFile.SLOT_B_BASE + 7L * PageSize.BASE, currentSlotOffset(7));
            assertEquals(9, file.slotsInUse());
        }
        try (PageFile file = PageFile.open(dir)) {
            assertEquals(new PageMeta(7, 4, file.meta(7).crc(), 1, true), file.meta(7));
            assertArrayEquals(bytesOf(image(7, 1, 4)), readBytes(file, 7, 1, 4));
            assertEquals(9, file.slotsInUse());
            file.write(List.of(image(7, 1, 5)));
            assertArrayEquals(bytesOf(image(7, 1, 5)), readBytes(file, 7, 1, 5));
        }
    }

    @Test
    void aPageListedTwiceIsWrittenInOrderInSeparateChunks() throws IOException {
        int[] chunks = {0};
        try (PageFile file = PageFile.open(dir)) {
            file.onFlip(n -> chunks[0] += n == 0 ? 1 : 0);
            file.write(List.of(image(1, 0, 1), image(2, 0, 1), image(1, 0, 2), image(3, 0, 1)));
            assertEquals(2, chunks[0]);
            assertArrayEquals(bytesOf(image(1, 0, 2)), readBytes(file, 1, 0, 2));
        }
        try (PageFile file = PageFile.open(dir)) {
            assertArrayEquals(bytesOf(image(1, 0, 2)), readBytes(file, 1, 0, 2));
            assertArrayEquals(bytesOf(image(3, 0, 1)), readBytes(file, 3, 0, 1));
        }
    }

    @Test
    void rejectsPagesWhoseSecondSlotWouldPassTheFileSizeLimit() throws IOException {
        try (PageFile file = PageFile.open(dir)) {
            long limit = file.slotLimit();
            assertTrue(limit > 0 && limit <= PageFile.SLOT_B_BASE / PageSize.BASE, "limit " + limit);
            PageImage last = image(limit - 1, 0, 1);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> file.write(List.of(image(0, 0, 1), image(limit - 1, 1, 1))));
            assertTrue(e.getMessage().contains("limit of " + limit), e.getMessage());
            assertFalse(file.meta(0).allocated(), "nothing written when one page does not fit");
            file.write(List.of(last)); // its slot B ends right at the file system's limit (on ext4)
            assertArrayEquals(bytesOf(last), readBytes(file, limit - 1, 0, 1));
            assertEquals(limit, file.slotsInUse());
            // not reopened: opening scans pages.meta, here a 32 GiB hole, for allocated pages
        }
    }

    @Test
    void repairsAStoreOfThePreviousVersionFromItsDoubleWriteBufferAndDeletesIt() throws IOException {
        // the layout the previous version left: images in place, descriptors with the slot bit clear, and the
        // last double-write batch. Its crash came during the in-place writes of that batch: pages 4 and 16 torn,
        // page 3's image written but not its descriptor; page 30 was written by an earlier batch.
        PageImage small = image(4, 0, 9);
        PageImage large = image(16, 3, 9);
        PageImage page3 = image(3, 0, 42);
        PageImage page30 = image(30, 0, 5);
        writeLegacyInPlace(List.of(small, large, page3, page30));
        writeDescriptorBytes(3, legacyDescriptor(image(3, 0, 41)));
        scribble(dir.resolve("pages.dat"), 4L * PageSize.BASE + 10);
        scribble(dir.resolve("pages.dat"), 16L * PageSize.BASE + PageSize.bytes(3) - 10);
        DoubleWriteBuffer.write(dir.resolve("pages.dwb"), 7, Stream.of(small, large, page3)
                .map(p -> new DoubleWriteBuffer.Entry(p.pageNo(), p.lsn(), Checksums.crc32c(p.bytes()),
                        p.sizeClass(), p.bytes()))
                .toList());
        try (PageFile file = PageFile.open(dir)) {
            assertFalse(Files.exists(dir.resolve("pages.dwb")), "the double-write buffer is deleted once repaired");
            assertArrayEquals(bytesOf(small), readBytes(file, 4, 0, 9));
            assertArrayEquals(bytesOf(large), readBytes(file, 16, 3, 9));
            assertEquals(42, file.meta(3).lsn());
            assertArrayEquals(bytesOf(page3), readBytes(file, 3, 0, 42));
            assertArrayEquals(bytesOf(page30), readBytes(file, 30, 0, 5));
            assertEquals(31, file.slotsInUse());
            file.write(List.of(image(30, 0, 6))); // a page of the old layout is rewritten to slot B
            assertEquals(PageFile.SLOT_B_BASE + 30L * PageSize.BASE, currentSlotOffset(30));
        }
        try (PageFile file = PageFile.open(dir)) {
            assertArrayEquals(bytesOf(small), readBytes(file, 4, 0, 9));
            assertArrayEquals(bytesOf(large), readBytes(file, 16, 3, 9));
            assertArrayEquals(bytesOf(page3), readBytes(file, 3, 0, 42));
            assertArrayEquals(bytesOf(image(30, 0, 6)), readBytes(file, 30, 0, 6));
        }
    }

    @Test
    void opensAStoreOfThePreviousVersionWhoseLastBatchCompleted() throws IOException {
        PageImage page = image(2, 1, 8);
        writeLegacyInPlace(List.of(page));
        DoubleWriteBuffer.write(dir.resolve("pages.dwb"), 3, List.of(new DoubleWriteBuffer.Entry(2, 8,
                Checksums.crc32c(page.bytes()), 1, page.bytes())));
        // and a torn tail behind the batch: ignored, as before
        scribble(dir.resolve("pages.dwb"), DoubleWriteBuffer.entryLength(1));
        try (PageFile file = PageFile.open(dir)) {
            assertFalse(Files.exists(dir.resolve("pages.dwb")));
            assertEquals(2L * PageSize.BASE, currentSlotOffset(2), "nothing to repair, nothing rewritten");
            assertArrayEquals(bytesOf(page), readBytes(file, 2, 1, 8));
        }
    }

    /** A page of records as an index leaf holds them: random 16-byte keys, each with the same 100-byte value. */
    private static PageImage leafLike(long pageNo, int sizeClass, long lsn) {
        byte[] bytes = new byte[PageSize.bytes(sizeClass)];
        Random rnd = new Random(pageNo * 31 + lsn);
        byte[] value = new byte[100];
        new Random(1).nextBytes(value);
        for (int at = 64; at + 120 <= bytes.length; at += 120) {
            for (int k = 0; k < 16; k++) {
                bytes[at + k] = (byte) rnd.nextInt();
            }
            System.arraycopy(value, 0, bytes, at + 20, 100);
        }
        return new PageImage(pageNo, sizeClass, lsn, MemorySegment.ofArray(bytes));
    }

    @Test
    void compressiblePagesAreStoredCompressedAndReadBackWhole() throws IOException {
        List<PageImage> pages = List.of(leafLike(0, 2, 1), leafLike(4, 4, 1), image(20, 2, 1), leafLike(24, 0, 1),
                leafLike(64, 6, 1));
        long imageBytes = pages.stream().mapToLong(p -> p.bytes().byteSize()).sum();
        try (PageFile file = PageFile.open(dir)) {
            file.write(pages);
            for (PageImage page : pages) {
                assertArrayEquals(bytesOf(page), readBytes(file, page.pageNo(), page.sizeClass(), page.lsn()));
            }
            long[] written = file.bytesWritten();
            assertEquals(imageBytes, written[0]);
            // the random 16 KiB page and the 4 KiB page are stored whole, the three others in a fraction
            long whole = PageSize.bytes(2) + PageSize.bytes(0);
            assertTrue(written[1] - whole < (imageBytes - whole) / 3, "stored " + written[1] + " of " + imageBytes);
            assertEquals(0, descriptorBytes(20)[PageMetaDescriptor.FLAGS_OFFSET] & PageMetaDescriptor.FLAG_COMPRESSED);
            assertEquals(0, descriptorBytes(24)[PageMetaDescriptor.FLAGS_OFFSET] & PageMetaDescriptor.FLAG_COMPRESSED);
            ByteBuffer d = ByteBuffer.wrap(descriptorBytes(4)).order(ByteOrder.LITTLE_ENDIAN);
            assertTrue(PageMetaDescriptor.compressed(d, 0));
            int blocks = PageMetaDescriptor.storedBlocks(d, 0);
            assertTrue(blocks >= 1 && blocks <= 4, "a 64 KiB leaf in " + blocks + " blocks");
            // only the stored blocks were written: the rest of the slot is still a hole
            assertArrayEquals(new byte[PageSize.BASE], readAt(currentSlotOffset(4) + (long) blocks * PageSize.BASE,
                    PageSize.BASE));
            file.willNeed(4);
            // rewrites alternate slots whichever form each image takes
            file.write(List.of(image(4, 4, 2)));
            assertArrayEquals(bytesOf(image(4, 4, 2)), readBytes(file, 4, 4, 2));
            file.write(List.of(leafLike(4, 4, 3)));
            assertArrayEquals(bytesOf(leafLike(4, 4, 3)), readBytes(file, 4, 4, 3));
        }
        // a file opened without compression writes images whole and still reads the compressed ones
        try (PageFile file = PageFile.open(dir, false)) {
            assertArrayEquals(bytesOf(leafLike(64, 6, 1)), readBytes(file, 64, 6, 1));
            file.write(List.of(leafLike(0, 2, 2)));
            assertEquals(0, descriptorBytes(0)[PageMetaDescriptor.FLAGS_OFFSET] & PageMetaDescriptor.FLAG_COMPRESSED);
            assertArrayEquals(bytesOf(leafLike(0, 2, 2)), readBytes(file, 0, 2, 2));
            assertEquals(file.bytesWritten()[0], file.bytesWritten()[1]);
        }
    }

    @Test
    void aDamagedCompressedImageIsReportedAsCorruption() throws IOException {
        try (PageFile file = PageFile.open(dir)) {
            file.write(List.of(leafLike(8, 3, 5), leafLike(16, 3, 5)));
        }
        // past the stored blocks nothing is read: garbage there changes nothing
        scribble(dir.resolve("pages.dat"), currentSlotOffset(16) + PageSize.bytes(3) - 100);
        scribble(dir.resolve("pages.dat"), currentSlotOffset(8) + 2); // the header
        try (PageFile file = PageFile.open(dir)) {
            CorruptionException e = assertThrows(CorruptionException.class, () -> readBytes(file, 8, 3, 5));
            assertTrue(e.getMessage().contains("page 8") && e.getMessage().contains("compressed"), e.getMessage());
            assertArrayEquals(bytesOf(leafLike(16, 3, 5)), readBytes(file, 16, 3, 5));
        }
        // a descriptor naming more stored blocks than the page has, or flags from a newer version
        byte[] d = descriptorBytes(16);
        d[PageMetaDescriptor.STORED_BLOCKS_OFFSET] = 8;
        writeDescriptorBytes(16, d);
        byte[] d8 = descriptorBytes(8);
        d8[PageMetaDescriptor.FLAGS_OFFSET] |= 0x40;
        writeDescriptorBytes(8, d8);
        try (PageFile file = PageFile.open(dir)) {
            assertTrue(assertThrows(CorruptionException.class, () -> readBytes(file, 16, 3, 5)).getMessage()
                    .contains("stored blocks"));
            assertTrue(assertThrows(CorruptionException.class, () -> readBytes(file, 8, 3, 5)).getMessage()
                    .contains("unknown flags"));
        }
    }

    private static void scribble(Path file, long offset) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap("garbage from a torn write".getBytes()), offset);
        }
    }


    private long currentSlotOffset(long pageNo) throws IOException {
        byte flags = descriptorBytes(pageNo)[PageMetaDescriptor.FLAGS_OFFSET];
        boolean slotB = (flags & PageMetaDescriptor.FLAG_SLOT_B) != 0;
        return (slotB ? PageFile.SLOT_B_BASE : 0) + pageNo * PageSize.BASE;
    }

    private long staleSlotOffset(long pageNo) throws IOException {
        return currentSlotOffset(pageNo) ^ PageFile.SLOT_B_BASE;
    }

    private byte[] descriptorBytes(long pageNo) throws IOException {
        try (FileChannel ch = FileChannel.open(dir.resolve("pages.meta"), StandardOpenOption.READ)) {
            ByteBuffer slot = ByteBuffer.allocate(PageMetaDescriptor.LENGTH);
            ch.read(slot, pageNo * PageMetaDescriptor.LENGTH);
            return slot.array();
        }
    }

    private void writeDescriptorBytes(long pageNo, byte[] slot) throws IOException {
        try (FileChannel ch = FileChannel.open(dir.resolve("pages.meta"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(slot), pageNo * PageMetaDescriptor.LENGTH);
        }
    }

    /** The descriptor the previous version wrote for {@code page}: allocated, slot bit clear. */
    private static byte[] legacyDescriptor(PageImage page) {
        ByteBuffer slot = ByteBuffer.allocate(PageMetaDescriptor.LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        PageMetaDescriptor.encode(slot, 0, page.lsn(), Checksums.crc32c(page.bytes()), page.sizeClass(),
                PageMetaDescriptor.FLAG_ALLOCATED);
        return slot.array();
    }

    /** Pages as the previous version wrote them in place: image at {@code p * 4096}, descriptor naming it. */
    private void writeLegacyInPlace(List<PageImage> pages) throws IOException {
        for (PageImage page : pages) {
            writeAt(page.pageNo() * PageSize.BASE, bytesOf(page));
            writeDescriptorBytes(page.pageNo(), legacyDescriptor(page));
        }
    }

    private void writeAt(long offset, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(dir.resolve("pages.dat"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(bytes), offset);
        }
    }

    private byte[] readAt(long offset, int length) throws IOException {
        try (FileChannel ch = FileChannel.open(dir.resolve("pages.dat"), StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(length);
            ch.read(buf, offset);
            return buf.array();
        }
    }
}
