package dev.strata.nbd.backend;

import dev.strata.core.NativeMemory;
import dev.strata.nbd.Backend;
import java.lang.foreign.MemorySegment;

/**
 * Off-heap memory backend on a {@link NativeMemory} reservation ({@code MAP_NORESERVE}: physical
 * memory only for written pages). Trim and zero release whole 64 KiB blocks with
 * {@code MADV_DONTNEED}; an {@link AllocationMap} answers block status.
 */
public final class MemoryBackend implements Backend {
    private static final long BLOCK = 64 * 1024;
    /** Smaller first writes just fault: populating ahead pays off over several pages. */
    private static final long POPULATE_MIN = 32 * 1024;
    private final NativeMemory memory;
    private final MemorySegment segment;
    private final AllocationMap allocated;

    public MemoryBackend(long size) {
        this.memory = NativeMemory.reserve(size);
        this.segment = memory.segment();
        this.allocated = new AllocationMap(size, BLOCK);
    }

    @Override
    public long size() {
        return segment.byteSize();
    }

    /** The backing memory, for in-process mounts (valid until close). */
    public MemorySegment segment() {
        return segment;
    }

    @Override
    public void readAt(long offset, MemorySegment dst) {
        MemorySegment.copy(segment, offset, dst, 0, dst.byteSize());
    }

    @Override
    public void writeAt(long offset, MemorySegment src) {
        if (src.byteSize() == 0) {
            return;
        }
        long len = src.byteSize();
        if (len >= POPULATE_MIN && (!allocated.get(offset / BLOCK) || !allocated.get((offset + len - 1) / BLOCK))) {
            memory.populateWrite(offset, len); // a first write there: one call instead of a fault per page
        }
        allocated.markRange(offset, len);
        MemorySegment.copy(src, 0, segment, offset, len);
    }

    @Override
    public void sync() {}

    @Override
    public MemorySegment readView(long offset, long length) {
        return segment.asSlice(offset, length).asReadOnly();
    }

    @Override
    public boolean nonBlocking() {
        return true;
    }

    @Override
    public boolean trim(long offset, long length) {
        zero(offset, length, false);
        return true;
    }

    @Override
    public boolean zero(long offset, long length, boolean fastOnly) {
        long end = offset + length;
        long first = (offset + BLOCK - 1) / BLOCK * BLOCK;
        long last = end / BLOCK * BLOCK;
        if (first >= last) {
            segment.asSlice(offset, length).fill((byte) 0);
            return true;
        }
        segment.asSlice(offset, first - offset).fill((byte) 0);
        segment.asSlice(last, end - last).fill((byte) 0);
        for (long b = first / BLOCK; b < last / BLOCK; b++) {
            allocated.set(b, false);
        }
        memory.dontNeed(first, last - first);
        return true;
    }

    @Override
    public void blockStatus(long offset, long length, ExtentSink sink) {
        allocated.report(offset, length, sink);
    }

    @Override
    public void close() {
        memory.close();
    }
}
