package dev.strata.memory.internal;

import dev.strata.core.NativeMemory;
import dev.strata.core.PageSize;
import dev.strata.core.remote.MemoryBudget;
import java.lang.foreign.MemorySegment;

/**
 * Page frames carved from one {@link NativeMemory} reservation: a free stack per size class over a
 * bump pointer. Bytes in use are charged to the node's {@link MemoryBudget}; a freed frame's physical
 * pages are released with {@code MADV_DONTNEED}. The reservation is twice the capacity (virtual
 * only), so fragmentation between size classes cannot make a node FULL below its bound in practice.
 *
 * <p>Thread-safe (one lock; allocation is not on the read path).
 */
final class FrameAllocator implements AutoCloseable {
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(FrameAllocator.class.getName());
    private final NativeMemory memory;
    private final MemoryBudget budget;
    private final long[][] free = new long[PageSize.MAX_CLASS + 1][];
    private final int[] freeCount = new int[PageSize.MAX_CLASS + 1];
    private long bump;

    FrameAllocator(long capacityBytes, MemoryBudget budget, boolean hugePages) {
        this.memory = NativeMemory.reserve(2 * capacityBytes + PageSize.MAX);
        this.budget = budget;
        if (hugePages && !HugePages.advise(memory.segment())) {
            LOG.warning("memory-node: madvise(MADV_HUGEPAGE) refused; page frames use 4 KiB pages");
        }
        for (int c = 0; c <= PageSize.MAX_CLASS; c++) {
            free[c] = new long[64];
        }
    }

    MemorySegment memory() {
        return memory.segment();
    }

    /** Offset of a new frame of {@code sizeClass}, or -1 when the budget is exhausted (FULL). */
    long allocate(int sizeClass) {
        int bytes = PageSize.bytes(sizeClass);
        if (!budget.tryReserve(bytes)) {
            return -1;
        }
        synchronized (this) {
            if (freeCount[sizeClass] > 0) {
                return free[sizeClass][--freeCount[sizeClass]];
            }
            if (bump + bytes <= memory.size()) {
                long off = bump;
                bump += bytes;
                return off;
            }
        }
        budget.release(bytes);
        return -1;
    }

    void free(long offset, int sizeClass) {
        int bytes = PageSize.bytes(sizeClass);
        memory.dontNeed(offset, bytes);
        synchronized (this) {
            if (freeCount[sizeClass] == free[sizeClass].length) {
                free[sizeClass] = java.util.Arrays.copyOf(free[sizeClass], free[sizeClass].length * 2);
            }
            free[sizeClass][freeCount[sizeClass]++] = offset;
        }
        budget.release(bytes);
    }

    @Override
    public void close() {
        memory.close();
    }
}
