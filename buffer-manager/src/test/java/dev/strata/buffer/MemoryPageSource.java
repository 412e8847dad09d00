package dev.strata.buffer;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A thread-safe in-memory next tier for tests: page images on the heap, counters of reads and
 * writes, and injectable failures.
 */
final class MemoryPageSource implements PageSource {
    record Image(byte[] bytes, long lsn, int sizeClass) {}

    final ConcurrentHashMap<Long, Image> images = new ConcurrentHashMap<>();
    final ConcurrentHashMap<Long, AtomicInteger> writesPerPage = new ConcurrentHashMap<>();
    final AtomicLong reads = new AtomicLong();
    final AtomicLong writes = new AtomicLong();
    final AtomicLong writeCalls = new AtomicLong();
    /** Pages whose reads fail with an IOException while listed. */
    final Set<Long> failingReads = ConcurrentHashMap.newKeySet();
    /** Threads that called write. */
    final Set<String> writerThreads = ConcurrentHashMap.newKeySet();
    /** Prefetch hints received, as pageNo * 256 + sizeClass. */
    final List<Long> prefetches = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** Number of upcoming write calls that fail with an IOException. */
    final AtomicInteger failingWrites = new AtomicInteger();
    /** Number of upcoming write calls that fail with an unchecked exception. */
    final AtomicInteger crashingWrites = new AtomicInteger();

    @Override
    public long read(long pageNo, int sizeClass, MemorySegment dst) throws IOException {
        if (failingReads.contains(pageNo)) {
            dst.fill((byte) 0x5A); // a partial read must not leak into the pool
            throw new IOException("injected read failure of page " + pageNo);
        }
        reads.incrementAndGet();
        Image img = images.get(pageNo);
        if (img == null) {
            dst.fill((byte) 0);
            return 0;
        }
        if (img.bytes.length != dst.byteSize()) {
            throw new IOException("page " + pageNo + " stored with " + img.bytes.length + " bytes, read as "
                    + dst.byteSize());
        }
        MemorySegment.copy(img.bytes, 0, dst, ValueLayout.JAVA_BYTE, 0, img.bytes.length);
        return img.lsn;
    }

    @Override
    public void write(List<PageWrite> pages) throws IOException {
        if (failingWrites.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            throw new IOException("injected write failure");
        }
        if (crashingWrites.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            throw new IllegalStateException("injected unchecked write failure");
        }
        writeCalls.incrementAndGet();
        writerThreads.add(Thread.currentThread().getName());
        for (PageWrite w : pages) {
            if (w.bytes().byteSize() != (4096L << w.sizeClass())) {
                throw new IOException("page " + w.pageNo() + " of class " + w.sizeClass() + " handed over with "
                        + w.bytes().byteSize() + " bytes");
            }
            images.put(w.pageNo(), new Image(w.bytes().toArray(ValueLayout.JAVA_BYTE), w.lsn(), w.sizeClass()));
            writesPerPage.computeIfAbsent(w.pageNo(), k -> new AtomicInteger()).incrementAndGet();
            writes.incrementAndGet();
        }
    }

    @Override
    public void prefetch(long pageNo, int sizeClass) {
        prefetches.add(pageNo * 256 + sizeClass);
    }

    int writesOf(long pageNo) {
        AtomicInteger n = writesPerPage.get(pageNo);
        return n == null ? 0 : n.get();
    }

    /** The first long of the stored image, or 0 when the page was never written back. */
    long storedLong(long pageNo) {
        Image img = images.get(pageNo);
        return img == null ? 0 : MemorySegment.ofArray(img.bytes).get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
    }
}
