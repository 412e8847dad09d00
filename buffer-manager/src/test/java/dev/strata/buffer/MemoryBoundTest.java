package dev.strata.buffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.core.ByteSize;
import dev.strata.core.PageSize;
import dev.strata.core.ProcessStats;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.Test;

/**
 * The pool's physical memory stays within its configured size while the page space is 16 times
 * larger: eviction must really release pages (MADV_DONTNEED), not just forget them.
 */
class MemoryBoundTest {
    static final long POOL = 64L << 20;
    static final long SPACE = 1L << 30;
    static final int SIZE_CLASS = 4; // 64 KiB pages: 16384 of them cover the whole space
    static final int PAGE_BYTES = PageSize.bytes(SIZE_CLASS);
    static final long SLOTS_PER_PAGE = PageSize.slots(SIZE_CLASS);
    static final long PAGES = SPACE / PAGE_BYTES;

    static long expected(long pageNo, long off) {
        return (pageNo * 0x9E3779B97F4A7C15L) ^ off;
    }

    /**
     * A next tier that keeps nothing on the heap: it checks every written image against the
     * deterministic pattern, remembers only which pages were written, and regenerates them on read.
     */
    static final class PatternSource implements PageSource {
        final AtomicLongArray written = new AtomicLongArray((int) (SPACE / PageSize.BASE / 64));
        final AtomicLong writes = new AtomicLong();
        final AtomicLong reads = new AtomicLong();

        @Override
        public long read(long pageNo, int sizeClass, MemorySegment dst) {
            reads.incrementAndGet();
            if ((written.get((int) (pageNo >>> 6)) & (1L << pageNo)) == 0) {
                dst.fill((byte) 0);
                return 0;
            }
            for (long off = 0; off < dst.byteSize(); off += 8) {
                dst.set(ValueLayout.JAVA_LONG, off, expected(pageNo, off));
            }
            return 1;
        }

        @Override
        public void write(List<PageWrite> pages) throws IOException {
            for (PageWrite w : pages) {
                MemorySegment b = w.bytes();
                if (b.byteSize() != PAGE_BYTES) {
                    throw new IOException("page " + w.pageNo() + " written with " + b.byteSize() + " bytes");
                }
                for (long off = 0; off < b.byteSize(); off += 8) {
                    if (b.get(ValueLayout.JAVA_LONG, off) != expected(w.pageNo(), off)) {
                        throw new IOException("page " + w.pageNo() + " written back wrong at byte " + off);
                    }
                }
                long p = w.pageNo();
                written.getAndUpdate((int) (p >>> 6), x -> x | (1L << p));
                writes.incrementAndGet();
            }
        }
    }

    @Test
    void residentMemoryStaysWithinThePoolWhileTouchingSixteenTimesAsMuch() {
        PatternSource src = new PatternSource();
        try (var pool = BufferPool.create(BufferPoolConfig.of(POOL, SPACE), src)) {
            for (long k = 0; k < PAGES; k++) {
                pool.defineSizeClass(k * SLOTS_PER_PAGE, SIZE_CLASS);
            }
            long before = ProcessStats.residentBytes();
            assertTrue(before > 0, "needs /proc/self/statm");
            long peak = before;
            for (long k = 0; k < PAGES; k++) {
                long p = k * SLOTS_PER_PAGE;
                try (var g = pool.fixExclusive(p)) {
                    MemorySegment seg = g.segment();
                    for (long off = 0; off < PAGE_BYTES; off += 8) {
                        seg.set(ValueLayout.JAVA_LONG, off, expected(p, off));
                    }
                    pool.markDirty(p);
                }
                if ((k & 255) == 0) {
                    peak = Math.max(peak, ProcessStats.residentBytes());
                    assertTrue(pool.residentBytes() <= POOL);
                }
            }
            peak = Math.max(peak, ProcessStats.residentBytes());
            long grown = peak - before;
            System.out.printf("RSS before %s, peak %s (+%s) touching %s through a %s pool%n", ByteSize.format(before),
                    ByteSize.format(peak), ByteSize.format(grown), ByteSize.format(SPACE), ByteSize.format(POOL));
            assertTrue(grown < POOL + (64L << 20), "RSS grew by " + ByteSize.format(grown));
            assertTrue(src.writes.get() >= PAGES - POOL / PAGE_BYTES, "dirty pages written back: " + src.writes);

            long readsBefore = src.reads.get();
            for (long k = 0; k < PAGES; k += 3) { // read back a third of the space, mostly from the next tier
                long p = k * SLOTS_PER_PAGE;
                try (var g = pool.fixShared(p)) {
                    MemorySegment seg = g.segment();
                    for (long off = 0; off < PAGE_BYTES; off += 8) {
                        if (seg.get(ValueLayout.JAVA_LONG, off) != expected(p, off)) {
                            throw new AssertionError("page " + p + " differs at byte " + off);
                        }
                    }
                }
            }
            assertTrue(src.reads.get() - readsBefore > PAGES / 3 - POOL / PAGE_BYTES, "read back through the tier");
            long after = ProcessStats.residentBytes();
            assertTrue(after - before < POOL + (64L << 20), "RSS after reading back: +" + ByteSize.format(after - before));
            assertEquals(0, pool.dirtyPages(), "read-back pages are clean; every written page went to the tier");
        }
    }
}
