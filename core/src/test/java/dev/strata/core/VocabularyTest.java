package dev.strata.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class VocabularyTest {
    @Test
    void byteSizesParseBinaryUnitsAndRejectNonsense() {
        assertEquals(4096, ByteSize.parse("4096"));
        assertEquals(64L << 10, ByteSize.parse("64KiB"));
        assertEquals(512L << 20, ByteSize.parse("512M"));
        assertEquals(1L << 30, ByteSize.parse(" 1g "));
        for (String bad : new String[] {"", "lots", "-1", "1.5G", "99999999999999999999", "9999999999P"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ByteSize.parse(bad), bad);
            assertTrue(e.getMessage().contains("byte size"), e.getMessage());
        }
        assertEquals("64.0 MiB", ByteSize.format(64L << 20));
    }

    @Test
    void pageIdsPackPartitionAndNumber() {
        long id = PageId.of(513, 123_456_789L);
        assertEquals(513, PageId.partition(id));
        assertEquals(123_456_789L, PageId.pageNumber(id));
        assertThrows(IllegalArgumentException.class, () -> PageId.of(-1, 0));
        assertThrows(IllegalArgumentException.class, () -> PageId.of(PageId.MAX_PARTITION + 1, 0));
        assertThrows(IllegalArgumentException.class, () -> PageId.of(0, PageId.MAX_PAGE_NUMBER + 1));
    }

    @Test
    void pageSizeClassesArePowersOfTwoFrom4KiBTo256KiB() {
        assertEquals(0, PageSize.classOf(4096));
        assertEquals(6, PageSize.classOf(256 * 1024));
        assertEquals(16, PageSize.slots(4));
        assertThrows(IllegalArgumentException.class, () -> PageSize.classOf(3000));
        assertThrows(IllegalArgumentException.class, () -> PageSize.classOf(512 * 1024));
        assertThrows(IllegalArgumentException.class, () -> PageSize.bytes(7));
    }

    @Test
    void reservationsAreZeroedAndDontNeedDropsContent() {
        try (NativeMemory m = NativeMemory.reserve(1L << 30)) {
            assertEquals(0L, m.segment().get(ValueLayout.JAVA_LONG, (1L << 30) - 8));
            m.segment().set(ValueLayout.JAVA_LONG, 8192, 42L);
            m.dontNeed(8192, 4096);
            assertEquals(0L, m.segment().get(ValueLayout.JAVA_LONG, 8192));
            assertThrows(IndexOutOfBoundsException.class, () -> m.dontNeed((1L << 30) - 4096, 8192));
        }
        assertThrows(IllegalArgumentException.class, () -> NativeMemory.reserve(0));
    }

    @Test
    void hugePagesIsAHintOverARangeOfTheReservation() {
        try (NativeMemory m = NativeMemory.reserve(64L << 20)) {
            boolean thp = java.nio.file.Files.exists(java.nio.file.Path.of("/sys/kernel/mm/transparent_hugepage/enabled"));
            assertEquals(thp, m.hugePages(0, 32L << 20, true), "advice accepted where the kernel has THP");
            assertEquals(thp, m.hugePages(0, 64L << 20, false));
            assertFalse(m.hugePages(4096, 0, true), "an empty range asks nothing");
            assertThrows(IndexOutOfBoundsException.class, () -> m.hugePages((64L << 20) - 4096, 8192, true));
            assertThrows(IndexOutOfBoundsException.class, () -> m.hugePages(-1, 4096, false));
        }
    }

    @Test
    void populateWriteFaultsARangeInAtOnceAndKeepsItsContent() throws Exception {
        try (NativeMemory m = NativeMemory.reserve(1L << 30)) {
            m.segment().set(ValueLayout.JAVA_LONG, 8192, 42L);
            long before = residentBytes(m);
            boolean populated = m.populateWrite(100, (64L << 20) - 200); // unaligned: widened to whole pages
            // MADV_POPULATE_WRITE exists from Linux 5.14; older kernels just get false (and the writes fault)
            String[] release = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/sys/kernel/osrelease"))
                    .trim().split("[.-]");
            int major = Integer.parseInt(release[0]);
            int minor = Integer.parseInt(release[1]);
            assertEquals(major > 5 || (major == 5 && minor >= 14), populated, "populated on Linux " + major + "." + minor);
            if (populated) {
                long grown = residentBytes(m) - before;
                assertTrue(grown >= 48L << 20, "resident memory grew by only " + grown + " bytes");
            }
            assertEquals(42L, m.segment().get(ValueLayout.JAVA_LONG, 8192));
            assertEquals(0L, m.segment().get(ValueLayout.JAVA_LONG, (64L << 20) - 8));
            assertThrows(IndexOutOfBoundsException.class, () -> m.populateWrite((1L << 30) - 4096, 8192));
        }
    }

    @Test
    void dontNeedOfManyRangesDropsExactlyThoseRanges() throws Exception {
        try (NativeMemory m = NativeMemory.reserve(1L << 30)) {
            // 1,500 ranges of 16 KiB with a kept 16 KiB page between them: more than one call's 1,024 ranges
            int n = 1_500;
            long[] offsets = new long[n + 1];
            long[] lengths = new long[n + 1];
            for (int i = 0; i < n; i++) {
                offsets[i] = 32_768L * i;
                lengths[i] = 16_384;
                m.segment().set(ValueLayout.JAVA_LONG, offsets[i] + 16_376, i + 1L); // the range's last bytes
                m.segment().set(ValueLayout.JAVA_LONG, offsets[i] + 16_384, -(i + 1L)); // the page after it
            }
            offsets[n] = 1L << 29; // past count: ignored
            lengths[n] = 4096;
            m.segment().set(ValueLayout.JAVA_LONG, 1L << 29, 99L);
            // which pages are in memory, by /proc/self/pagemap (bit 63): exact, whatever else the process maps
            long base = m.segment().address();
            try (java.nio.channels.FileChannel pagemap = java.nio.channels.FileChannel.open(
                    java.nio.file.Path.of("/proc/self/pagemap"))) {
                for (int i = 0; i < n; i++) {
                    assertTrue(present(pagemap, base + offsets[i] + 12_288), "range " + i + "'s page before");
                }
                m.dontNeed(offsets, lengths, n);
                int kept = 0;
                for (int i = 0; i < n; i++) {
                    kept += present(pagemap, base + offsets[i] + 12_288) ? 1 : 0;
                    assertTrue(present(pagemap, base + offsets[i] + 16_384), "the page after range " + i);
                }
                // each range had one 4 KiB page touched: its memory is given back, batched or not
                assertEquals(0, kept, "pages of dropped ranges still in memory");
                assertTrue(present(pagemap, base + (1L << 29)), "the range past count");
            }
            for (int i = 0; i < n; i++) {
                assertEquals(0L, m.segment().get(ValueLayout.JAVA_LONG, offsets[i] + 16_376), "range " + i);
                assertEquals(-(i + 1L), m.segment().get(ValueLayout.JAVA_LONG, offsets[i] + 16_384), "after " + i);
            }
            assertEquals(99L, m.segment().get(ValueLayout.JAVA_LONG, 1L << 29));
            // process_madvise takes MADV_DONTNEED for the calling process from Linux 6.13 (and glibc 2.36)
            String[] release = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/sys/kernel/osrelease"))
                    .trim().split("[.-]");
            int major = Integer.parseInt(release[0]);
            int minor = Integer.parseInt(release[1]);
            boolean glibc = java.lang.foreign.Linker.nativeLinker().defaultLookup().find("process_madvise").isPresent();
            if (glibc && (major > 6 || (major == 6 && minor >= 13))) {
                assertTrue(NativeMemory.batchedDontNeed(), "one call per 1,024 ranges on Linux " + major + "." + minor);
            }
            long[] bad = {(1L << 30) - 4096};
            assertThrows(IndexOutOfBoundsException.class, () -> m.dontNeed(bad, new long[] {8192}, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> m.dontNeed(bad, new long[] {4096}, 2));
            m.dontNeed(new long[0], new long[0], 0);
        }
    }

    /** Whether the page holding {@code address} is in memory: bit 63 of its {@code /proc/self/pagemap} entry. */
    private static boolean present(java.nio.channels.FileChannel pagemap, long address) throws java.io.IOException {
        java.nio.ByteBuffer entry = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertEquals(8, pagemap.read(entry, address / 4096 * 8), "a pagemap entry");
        return entry.getLong(0) < 0;
    }

    /** The reservation's own resident bytes: the process's would count what the JIT and GC map meanwhile. */
    private static long residentBytes(NativeMemory m) {
        long rss = ProcessStats.mappedBytes(m.segment(), "Rss");
        assertTrue(rss >= 0, "no mapping of the reservation in /proc/self/smaps");
        return rss;
    }
}
