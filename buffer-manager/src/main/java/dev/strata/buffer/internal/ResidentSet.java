package dev.strata.buffer.internal;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongConsumer;

/**
 * The set of resident page numbers, so the eviction clock walks only resident pages (vmcache's
 * ResidentPageSet): lock-free open addressing with linear probing over a power-of-two table at
 * least 1.5 times the pool's page count. Removal leaves a tombstone that later inserts reuse.
 * Thread-safe: inserts and removes are CAS on one cell; the clock hand is a shared counter so
 * concurrent evictors walk disjoint ranges.
 */
public final class ResidentSet {
    private static final long EMPTY = -1L;
    private static final long TOMBSTONE = -2L;

    private final AtomicLongArray cells;
    private final int mask;
    private final AtomicLong hand = new AtomicLong();

    /** The largest table: an {@code AtomicLongArray} is indexed by int. */
    static final int MAX_CELLS = 1 << 30;

    public ResidentSet(long maxEntries) {
        long want = Math.max(64, maxEntries + maxEntries / 2);
        if (want > MAX_CELLS) {
            // the power-of-two rounding below would overflow int (a negative array size)
            throw new IllegalArgumentException("a pool of " + maxEntries + " pages needs more than " + MAX_CELLS
                    + " resident-set cells; use a smaller pool or several pools");
        }
        int size = Integer.highestOneBit((int) (want - 1)) << 1;
        this.cells = new AtomicLongArray(size);
        this.mask = size - 1;
        for (int i = 0; i < size; i++) {
            cells.set(i, EMPTY);
        }
    }

    private int home(long pageNo) {
        return (int) ((pageNo * 0x9E3779B97F4A7C15L) >>> 33) & mask;
    }

    /** Adds a page known not to be present. */
    public void insert(long pageNo) {
        int i = home(pageNo);
        for (int probes = 0; probes <= mask; probes++, i = (i + 1) & mask) {
            long c = cells.get(i);
            if ((c == EMPTY || c == TOMBSTONE) && cells.compareAndSet(i, c, pageNo)) {
                return;
            }
        }
        throw new IllegalStateException("resident set full");
    }

    /** Removes a present page; returns false if it was not found. */
    public boolean remove(long pageNo) {
        int i = home(pageNo);
        for (int probes = 0; probes <= mask; probes++, i = (i + 1) & mask) {
            long c = cells.get(i);
            if (c == EMPTY) {
                return false;
            }
            if (c == pageNo) {
                return cells.compareAndSet(i, c, TOMBSTONE);
            }
        }
        return false;
    }

    public int capacity() {
        return mask + 1;
    }

    /** Advances the clock by {@code count} cells and reports each resident page found there. */
    public void clockBatch(int count, LongConsumer visitor) {
        long start = hand.getAndAdd(count);
        for (int k = 0; k < count; k++) {
            long c = cells.get((int) ((start + k) & mask));
            if (c >= 0) {
                visitor.accept(c);
            }
        }
    }

    /** Reports every resident page (a weakly consistent snapshot). */
    public void forEach(LongConsumer visitor) {
        for (int i = 0; i <= mask; i++) {
            long c = cells.get(i);
            if (c >= 0) {
                visitor.accept(c);
            }
        }
    }
}
