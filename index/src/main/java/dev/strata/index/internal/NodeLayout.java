package dev.strata.index.internal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Byte layout of a tree node page, and allocation-free accessors for optimistic readers. Offsets
 * are relative to the page start {@code base} within the store's page memory.
 *
 * <pre>
 *  0      4      8         12        16          20          24           32
 *  +------+------+---------+---------+-----------+-----------+------------+
 *  |magic | kind |nChildren|nEntries | heapStart | pageBytes | reserved   |
 *  +------+------+---------+---------+-----------+-----------+------------+
 *  | children: nChildren x u64 page id                (internal only)     |
 *  | pivot slots: (nChildren-1) x (u32 heap offset, u32 head) (internal) |
 *  | child starts: nChildren x u16, padded to 8 bytes          (internal) |
 *  | entry slots: nEntries x (u32 heap offset, u32 head), sorted by key   |
 *  |              (equal keys
 *  |              in arrival order, oldest first)                          |
 *  | ... free ...                                                          |
 *  | heap (grows down from the page end):                                  |
 *  |   pivot = u16 len, key bytes                                          |
 *  |   entry = u16 klen, u8 type, u8 operator, u32 vlen, key, value        |
 *  +-----------------------------------------------------------------------+
 * </pre>
 *
 * Leaves hold records (entries of type PUT); internal nodes hold pivots and the message buffer
 * (PUT, DELETE, UPSERT). Pivot {@code i} separates child {@code i} (keys below it) from child
 * {@code i + 1}. Child start {@code i} is the index of the first buffered entry in child {@code i}'s
 * key range (the first whose key is {@code >=} pivot {@code i - 1}; 0 for child 0), so that a point read
 * searches only the messages of the child it descends to. A slot's head is the key's first 4 bytes
 * (big-endian, zero-padded) so that searches compare within the slot array and touch a key's bytes only
 * on equal heads; a search of many slots starts from where the key's head falls between the first and
 * last heads ({@link #narrow}). A value with the OVERFLOW flag is a 12-byte pointer (u64 first page, u32
 * length).
 */
public final class NodeLayout {
    private NodeLayout() {}

    public static final int MAGIC = 0x42457032; // "BEp2" (with child starts; "BEps" before)
    public static final int LEAF = 1;
    public static final int INTERNAL = 2;
    public static final int HEADER = 32;
    public static final int OFF_MAGIC = 0;
    public static final int OFF_KIND = 4;
    public static final int OFF_NCHILDREN = 8;
    public static final int OFF_NENTRIES = 12;
    public static final int OFF_HEAP = 16;
    public static final int OFF_PAGEBYTES = 20;
    public static final int ENTRY_HEADER = 8;

    public static final int PUT = 1;
    public static final int DELETE = 2;
    public static final int UPSERT = 3;
    public static final int KIND_MASK = 0x0F;
    public static final int OVERFLOW = 0x10;
    public static final int POINTER_BYTES = 12;

    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;
    static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;
    static final ValueLayout.OfLong LONG_BE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    public static int slotBase(int nChildren) {
        return nChildren == 0 ? HEADER : startsBase(nChildren) + startsBytes(nChildren);
    }

    /** Offset of the child-start array of an internal node with {@code nChildren} children. */
    static int startsBase(int nChildren) {
        return HEADER + 16 * nChildren - 8;
    }

    /** Bytes of the child-start array (u16 each, padded to 8 bytes). */
    static int startsBytes(int nChildren) {
        return (2 * nChildren + 7) & ~7;
    }

    /** Index of the first buffered entry in child {@code i}'s key range. */
    static int childStart(MemorySegment m, long base, int nChildren, int i) {
        return u16(m, base + startsBase(nChildren) + 2L * i);
    }

    public static final int SLOT = 8;

    /** The first 4 bytes of {@code key} as an unsigned big-endian int, zero-padded. */
    public static int head(byte[] key) {
        int n = key.length;
        if (n >= 4) {
            return (key[0] & 0xFF) << 24 | (key[1] & 0xFF) << 16 | (key[2] & 0xFF) << 8 | (key[3] & 0xFF);
        }
        int h = 0;
        for (int i = 0; i < 4; i++) {
            h = h << 8 | (i < n ? key[i] & 0xFF : 0);
        }
        return h;
    }

    static int getInt(MemorySegment m, long base, int off) {
        return m.get(INT, base + off);
    }

    static long child(MemorySegment m, long base, int i) {
        return m.get(LONG, base + HEADER + 8L * i);
    }

    static int pivotOffset(MemorySegment m, long base, int nChildren, int i) {
        return m.get(INT, base + HEADER + 8L * nChildren + 8L * i);
    }

    static int pivotHead(MemorySegment m, long base, int nChildren, int i) {
        return m.get(INT, base + HEADER + 8L * nChildren + 8L * i + 4);
    }

    static int entryHead(MemorySegment m, long base, int nChildren, int i) {
        return m.get(INT, base + slotBase(nChildren) + 8L * i + 4);
    }

    static int entryOffset(MemorySegment m, long base, int nChildren, int i) {
        return m.get(INT, base + slotBase(nChildren) + 8L * i);
    }

    static int u16(MemorySegment m, long at) {
        return m.get(SHORT, at) & 0xFFFF;
    }

    static int u8(MemorySegment m, long at) {
        return m.get(ValueLayout.JAVA_BYTE, at) & 0xFF;
    }

    /** Unsigned lexicographic comparison of the page bytes {@code [at, at+len)} with {@code key}. */
    static int compare(MemorySegment m, long at, int len, byte[] key) {
        int n = Math.min(len, key.length);
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            long a = m.get(LONG_BE, at + i);
            long b = Keys.longAt(key, i);
            if (a != b) {
                return Long.compareUnsigned(a, b);
            }
        }
        for (; i < n; i++) {
            int a = m.get(ValueLayout.JAVA_BYTE, at + i) & 0xFF;
            int b = key[i] & 0xFF;
            if (a != b) {
                return a - b;
            }
        }
        return len - key.length;
    }

    /**
     * Index of the child whose range holds {@code key}: the number of pivots {@code <= key}.
     */
    static int findChild(MemorySegment m, long base, int nChildren, byte[] key) {
        return findChild(m, base, nChildren, key, head(key));
    }

    /**
     * {@link #findChild(MemorySegment, long, int, byte[])} with the key's head already computed. Over
     * {@link #INTERPOLATE_MIN} pivots or more it first narrows the range as {@link #narrow} does.
     */
    static int findChild(MemorySegment m, long base, int nChildren, byte[] key, int kh) {
        int lo = 0;
        int hi = nChildren - 1;
        if (hi >= INTERPOLATE_MIN) {
            long r = narrow(m, base, base + HEADER + 8L * nChildren, 2, true, lo, hi, key, kh);
            lo = (int) (r >>> 32);
            hi = (int) r;
        }
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            int c = Integer.compareUnsigned(pivotHead(m, base, nChildren, mid), kh);
            if (c == 0) {
                long p = base + pivotOffset(m, base, nChildren, mid);
                c = compare(m, p + 2, u16(m, p), key);
            }
            if (c <= 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /** Fewest slots for which a search first narrows its range by interpolation ({@link #narrow}). */
    static final int INTERPOLATE_MIN = 16;

    /**
     * First entry index in {@code [lo, hi)} whose key is {@code >= key} ({@code hi} if none), whose head is {@code kh}.
     * Over {@link #INTERPOLATE_MIN} entries or more it first narrows the range as {@link #narrow} does.
     */
    static int lowerBound(MemorySegment m, long base, int nChildren, int lo, int hi, byte[] key, int kh) {
        long slots = base + slotBase(nChildren);
        if (hi - lo >= INTERPOLATE_MIN) {
            long r = narrow(m, base, slots, ENTRY_HEADER, false, lo, hi, key, kh);
            lo = (int) (r >>> 32);
            hi = (int) r;
        }
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            long slot = slots + 8L * mid;
            int h = m.get(INT, slot + 4);
            if (h == kh) {
                long e = base + m.get(INT, slot);
                int c = compare(m, e + ENTRY_HEADER, u16(m, e), key);
                if (c < 0) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            } else if (Integer.compareUnsigned(h, kh) < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /**
     * Narrows a search of the slots {@code [lo, hi)} (each a u32 heap offset and a u32 head, from {@code slots}) for
     * the first slot whose key does not sort before {@code key} ({@code orEqual}: sorts after it; an item's key is
     * at {@code keyAt} past its u16 length), or {@code hi}. It reads the first, middle and last slots' heads (the
     * three reads do not wait for each other). When the first and last heads enclose the key's strictly and the
     * middle head is where a line through them puts it (within a slot, or a 32nd of the slots), the heads are taken
     * as spread evenly: a guess where the key's head falls between the first and last is checked by reading the two
     * ends of a window around it together, and bisection goes on inside the window or on the side of it that holds
     * the answer. Otherwise the middle slot is bisection's first step.
     *
     * <p>Bisecting a node's slots is a chain of dependent reads and branches no processor predicts: ~7 of each for
     * 100–250 slots, at every level. Over evenly spread heads (consecutive numbers such as sequence ids, and the
     * pivots above them) the answer is in the window, which bisects in ~3 more steps. Without the middle check,
     * random 4-byte keys, whose guess is often a few slots off, read 4-9% slower than with bisection alone (an
     * ad-hoc 1M-key run, {@code index/BENCHMARKS.md}).
     *
     * @return the narrowed range as {@code lo << 32 | hi}
     */
    private static long narrow(MemorySegment m, long base, long slots, int keyAt, boolean orEqual, int lo, int hi,
            byte[] key, int kh) {
        int mid = (lo + hi - 1) >>> 1;
        long first = Integer.toUnsignedLong(m.get(INT, slots + 8L * lo + 4));
        long last = Integer.toUnsignedLong(m.get(INT, slots + 8L * (hi - 1) + 4));
        long middle = Integer.toUnsignedLong(m.get(INT, slots + 8L * mid + 4));
        long k = Integer.toUnsignedLong(kh);
        if (first < k && k < last) {
            // slot lo sorts before the key and slot hi - 1 after it: the answer is in [lo + 1, hi - 1]
            int span = hi - 1 - lo;
            long atMiddle = lo + (middle - first) * span / (last - first);
            if (Math.abs(atMiddle - mid) > Math.max(1, span >>> 5)) {
                // the heads are not spread evenly (the middle one is not where they would put it): bisect, the
                // middle slot's head already read
                return before(m, base, slots, keyAt, orEqual, mid, key, kh) ? (long) (mid + 1) << 32 | hi
                        : (long) lo << 32 | mid;
            }
            int g = Math.clamp(lo + (k - first) * span / (last - first), lo + 1, hi - 2);
            lo++;
            hi--;
            int w = Math.max(4, (hi - lo) >>> 4);
            int a = Math.max(lo, g - w);
            int z = Math.min(hi - 1, g + w);
            boolean aBefore = before(m, base, slots, keyAt, orEqual, a, key, kh);
            boolean zBefore = before(m, base, slots, keyAt, orEqual, z, key, kh);
            if (!aBefore) {
                hi = a;
            } else if (zBefore) {
                lo = z + 1;
            } else {
                lo = a + 1;
                hi = z;
            }
        }
        return (long) lo << 32 | hi;
    }

    /** True when slot {@code i}'s key sorts before {@code key} ({@code orEqual}: or equals it). */
    private static boolean before(MemorySegment m, long base, long slots, int keyAt, boolean orEqual, int i,
            byte[] key, int kh) {
        long slot = slots + 8L * i;
        int h = m.get(INT, slot + 4);
        if (h == kh) {
            long e = base + m.get(INT, slot);
            int c = compare(m, e + keyAt, u16(m, e), key);
            return orEqual ? c <= 0 : c < 0;
        }
        return Integer.compareUnsigned(h, kh) < 0;
    }

    /** First entry index whose key is {@code >= key} ({@code strict}: {@code > key}). */
    static int lowerBound(MemorySegment m, long base, int nChildren, int nEntries, byte[] key, boolean strict) {
        int lo = 0;
        int hi = nEntries;
        int kh = head(key);
        long slots = base + slotBase(nChildren);
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            int c = Integer.compareUnsigned(m.get(INT, slots + 8L * mid + 4), kh);
            if (c == 0) {
                long e = base + m.get(INT, slots + 8L * mid);
                c = compare(m, e + ENTRY_HEADER, u16(m, e), key);
            }
            if (c < 0 || (strict && c == 0)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }
}
