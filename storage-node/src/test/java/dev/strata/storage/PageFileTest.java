package dev.strata.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.core.CorruptionException;
import dev.strata.core.PageSize;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
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
            file.write(List.of(image(1, 0, 5)));
            file.write(List.of(image(2, 0, 6))); // page 1 is no longer in the double-write buffer
            scribble(dir.resolve("pages.dat"), PageSize.BASE + 100);
            assertThrows(CorruptionException.class, () -> readBytes(file, 1, 0, 5));
            readBytes(file, 2, 0, 6);
        }
        try (PageFile file = PageFile.open(dir)) {
            assertThrows(CorruptionException.class, () -> readBytes(file, 1, 0, 5));
        }
    }

    @Test
    void repairsATornInPlaceWriteFromTheDoubleWriteBuffer() throws IOException {
        PageImage small = image(4, 0, 9);
        PageImage large = image(16, 3, 9);
        try (PageFile file = PageFile.open(dir)) {
            file.write(List.of(small, large));
        }
        scribble(dir.resolve("pages.dat"), 4L * PageSize.BASE + 10);
        scribble(dir.resolve("pages.dat"), 16L * PageSize.BASE + PageSize.bytes(3) - 10);
        try (PageFile file = PageFile.open(dir)) {
            assertArrayEquals(bytesOf(small), readBytes(file, 4, 0, 9));
            assertArrayEquals(bytesOf(large), readBytes(file, 16, 3, 9));
        }
    }

    @Test
    void repairsAPageWhoseMetaWasNotWritten() throws IOException {
        PageImage page = image(3, 0, 42);
        try (PageFile file = PageFile.open(dir)) {
            file.write(List.of(image(3, 0, 41)));
            file.write(List.of(page));
        }
        // roll the meta slot back to the previous version, as if the crash came before the meta write
        try (FileChannel ch = FileChannel.open(dir.resolve("pages.meta"), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(16), 3 * 16);
        }
        try (PageFile file = PageFile.open(dir)) {
            assertEquals(42, file.meta(3).lsn());
            assertArrayEquals(bytesOf(page), readBytes(file, 3, 0, 42));
        }
    }

    @Test
    void splitsLargeListsIntoChunks() throws IOException {
        List<PageImage> pages = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            pages.add(image(i * 64L, 6, 100 + i)); // 40 x 256 KiB > one 8 MiB double-write chunk
        }
        try (PageFile file = PageFile.open(dir)) {
            file.write(pages);
        }
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

    private static void scribble(Path file, long offset) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap("garbage from a torn write".getBytes()), offset);
        }
    }
}
