package dev.strata.buffer.internal;

import dev.strata.core.NativeMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * One 32-byte entry per 4 KiB slot of the page space, in a lazily committed reservation (only the
 * entries of touched pages cost physical memory). Holds the vmcache latch word and the LSN
 * bookkeeping that the write-back rules need.
 *
 * <pre>
 * entry (32 bytes):
 *  0      8        16       24     28   29     30   32
 * +-------+--------+--------+------+----+------+
 * | state | pageLsn| recLsn | pins | sc |fresh | pad
 * +-------+--------+--------+------+----+------+
 *
 * state word:
 *  63      56 55                                   0
 * +----------+--------------------------------------+
 * |  state   |               version                |
 * +----------+--------------------------------------+
 *  state: 0 EVICTED (zeroed memory starts here), 1 UNLOCKED, 2..253 SHARED (count = state-1),
 *         254 MARKED (clock: candidate for eviction), 255 LOCKED (exclusive)
 *
 *            lockX             unlockX (version+1)
 *  UNLOCKED ------> LOCKED ---------------------> UNLOCKED
 *    |  ^  lockS/unlockS            ^  |  evict (version+1)
 *    v  |                           |  v
 *  SHARED(n)        MARKED --lockX--+  EVICTED --lockX (fault)--> LOCKED
 * </pre>
 *
 * pageLsn is the LSN of the newest committed change in the page; recLsn the LSN of the oldest
 * committed change not yet written to the next tier (0 = clean); pins counts open batches with
 * uncommitted changes in the page (no-steal: a pinned page is never written back or evicted); fresh
 * marks a page allocated since it was last resident, whose first fault zero-fills instead of reading.
 * Thread-safe; all fields are accessed with volatile or CAS semantics.
 */
public final class PageTable implements AutoCloseable {
    public static final int EVICTED = 0;
    public static final int UNLOCKED = 1;
    public static final int MAX_SHARED = 252;
    public static final int MARKED = 254;
    public static final int LOCKED = 255;
    public static final long VERSION_MASK = (1L << 56) - 1;

    private static final int ENTRY = 32;
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
    private static final VarHandle BYTE = ValueLayout.JAVA_BYTE.varHandle();

    private final NativeMemory memory;
    private final MemorySegment table;
    private final long slots;

    public PageTable(long slots) {
        this.slots = slots;
        this.memory = NativeMemory.reserve(slots * ENTRY);
        this.table = memory.segment();
    }

    public long slots() {
        return slots;
    }

    public static int state(long word) {
        return (int) (word >>> 56);
    }

    public static long version(long word) {
        return word & VERSION_MASK;
    }

    public static long word(int state, long version) {
        return ((long) state << 56) | (version & VERSION_MASK);
    }

    public long load(long slot) {
        return (long) LONG.getVolatile(table, slot * ENTRY);
    }

    public boolean cas(long slot, long expect, long update) {
        return LONG.compareAndSet(table, slot * ENTRY, expect, update);
    }

    public void store(long slot, long word) {
        LONG.setVolatile(table, slot * ENTRY, word);
    }

    public long pageLsn(long slot) {
        return (long) LONG.getVolatile(table, slot * ENTRY + 8);
    }

    public void pageLsn(long slot, long lsn) {
        LONG.setVolatile(table, slot * ENTRY + 8, lsn);
    }

    public long recLsn(long slot) {
        return (long) LONG.getVolatile(table, slot * ENTRY + 16);
    }

    public void recLsn(long slot, long lsn) {
        LONG.setVolatile(table, slot * ENTRY + 16, lsn);
    }

    /** Records a committed change: raises pageLsn, lowers recLsn to {@code lsn} if it was clean or newer. */
    public void noteCommitted(long slot, long lsn) {
        long off = slot * ENTRY + 8;
        long cur;
        do {
            cur = (long) LONG.getVolatile(table, off);
        } while (cur < lsn && !LONG.compareAndSet(table, off, cur, lsn));
        // recLsn is the OLDEST committed change not yet written: notes may arrive out of LSN order
        // (commit callbacks, allocations made durable by a checkpoint), so keep the minimum
        long rec = slot * ENTRY + 16;
        long r;
        do {
            r = (long) LONG.getVolatile(table, rec);
        } while ((r == 0 || lsn < r) && !LONG.compareAndSet(table, rec, r, lsn));
    }

    public boolean fresh(long slot) {
        return (byte) BYTE.getVolatile(table, slot * ENTRY + 29) != 0;
    }

    public void fresh(long slot, boolean fresh) {
        BYTE.setVolatile(table, slot * ENTRY + 29, (byte) (fresh ? 1 : 0));
    }

    public int pins(long slot) {
        return (int) INT.getVolatile(table, slot * ENTRY + 24);
    }

    public int addPins(long slot, int delta) {
        return (int) INT.getAndAdd(table, slot * ENTRY + 24, delta) + delta;
    }

    public int sizeClass(long slot) {
        return (byte) BYTE.getVolatile(table, slot * ENTRY + 28);
    }

    public void sizeClass(long slot, int sizeClass) {
        BYTE.setVolatile(table, slot * ENTRY + 28, (byte) sizeClass);
    }

    @Override
    public void close() {
        memory.close();
    }
}
