package dev.strata.memory;

import dev.strata.buffer.PageSource;
import dev.strata.buffer.PageWrite;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** The "lower tier" of tests: page images and LSNs on the heap. Thread-safe. */
final class MapPageSource implements PageSource {
    private record Image(long lsn, byte[] bytes) {}

    private final ConcurrentHashMap<Long, Image> pages = new ConcurrentHashMap<>();
    final AtomicLong reads = new AtomicLong();
    final AtomicLong writes = new AtomicLong();

    @Override
    public long read(long pageNo, int sizeClass, MemorySegment dst) {
        reads.incrementAndGet();
        Image i = pages.get(pageNo);
        if (i == null) {
            dst.fill((byte) 0);
            return 0;
        }
        MemorySegment.copy(MemorySegment.ofArray(i.bytes), 0, dst, 0, dst.byteSize());
        return i.lsn;
    }

    @Override
    public void write(List<PageWrite> batch) {
        for (PageWrite w : batch) {
            writes.incrementAndGet();
            pages.put(w.pageNo(), new Image(w.lsn(), w.bytes().toArray(ValueLayout.JAVA_BYTE)));
        }
    }
}
