package dev.strata.nbd.backend;

import dev.strata.nbd.Backend;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * One bit per block: set = the block may hold data, clear = it reads as zeros (a hole). Lock-free;
 * bits are set with CAS loops. Used to answer base:allocation block-status queries.
 */
public final class AllocationMap {
    private final AtomicLongArray bits;
    private final long blockSize;
    private final long size;

    public AllocationMap(long size, long blockSize) {
        this.size = size;
        this.blockSize = blockSize;
        long blocks = (size + blockSize - 1) / blockSize;
        this.bits = new AtomicLongArray((int) ((blocks + 63) >>> 6));
    }

    public long blockSize() {
        return blockSize;
    }

    public boolean get(long block) {
        return (bits.get((int) (block >>> 6)) & (1L << block)) != 0;
    }

    public void set(long block, boolean value) {
        int i = (int) (block >>> 6);
        long m = 1L << block;
        long v;
        do {
            v = bits.get(i);
            if (((v & m) != 0) == value) {
                return;
            }
        } while (!bits.compareAndSet(i, v, value ? v | m : v & ~m));
    }

    /** Marks every block touched by {@code [offset, offset+length)}. */
    public void markRange(long offset, long length) {
        for (long b = offset / blockSize, end = (offset + length - 1) / blockSize; b <= end; b++) {
            set(b, true);
        }
    }

    /** Emits runs of allocated (flags 0) and hole (HOLE|ZERO) extents starting at {@code offset}. */
    public void report(long offset, long length, Backend.ExtentSink sink) {
        long end = Math.min(size, offset + length);
        long pos = offset;
        while (pos < end) {
            long b = pos / blockSize;
            boolean state = get(b);
            long runEnd = Math.min(end, (b + 1) * blockSize);
            while (runEnd < end && get(runEnd / blockSize) == state) {
                runEnd = Math.min(end, runEnd + blockSize);
            }
            if (!sink.extent(runEnd - pos, state ? 0 : 3)) {
                return;
            }
            pos = runEnd;
        }
    }
}
