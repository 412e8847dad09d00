package dev.strata.index.internal;

import static dev.strata.index.internal.NodeLayout.ENTRY_HEADER;
import static dev.strata.index.internal.NodeLayout.HEADER;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;

/**
 * A node decoded onto the heap for a writer (which holds its page latched exclusively): children,
 * pivots and entries as lists, re-encoded into a page image by {@link #encode()}. Not thread-safe.
 */
final class Node {
    final long pageId;
    final int pageBytes;
    boolean leaf;
    final List<byte[]> pivots = new ArrayList<>();
    final List<Long> children = new ArrayList<>();
    List<Msg> entries = new ArrayList<>();
    boolean dirty;
    /** Heap offsets of the pivots and entries decoded from the page (by identity); null for new nodes. */
    IdentityHashMap<Object, Integer> origin;

    Node(long pageId, int pageBytes, boolean leaf) {
        this.pageId = pageId;
        this.pageBytes = pageBytes;
        this.leaf = leaf;
    }

    static Node decode(long pageId, MemorySegment page) {
        int magic = page.get(NodeLayout.INT, NodeLayout.OFF_MAGIC);
        if (magic != NodeLayout.MAGIC) {
            throw new dev.strata.core.CorruptionException("page " + dev.strata.core.PageId.toString(pageId)
                    + " is not an index node (magic " + Integer.toHexString(magic) + ")");
        }
        int kind = page.get(NodeLayout.INT, NodeLayout.OFF_KIND);
        int nc = page.get(NodeLayout.INT, NodeLayout.OFF_NCHILDREN);
        int ne = page.get(NodeLayout.INT, NodeLayout.OFF_NENTRIES);
        Node n = new Node(pageId, (int) page.byteSize(), kind == NodeLayout.LEAF);
        n.origin = new IdentityHashMap<>(2 * (nc + ne) + 4);
        for (int i = 0; i < nc; i++) {
            n.children.add(NodeLayout.child(page, 0, i));
        }
        for (int i = 0; i < nc - 1; i++) {
            int p = NodeLayout.pivotOffset(page, 0, nc, i);
            byte[] pivot = bytes(page, p + 2, NodeLayout.u16(page, p));
            n.pivots.add(pivot);
            n.origin.put(pivot, p);
        }
        List<Msg> es = new ArrayList<>(ne + 16);
        for (int i = 0; i < ne; i++) {
            int at = NodeLayout.entryOffset(page, 0, nc, i);
            Msg m = readEntry(page, at);
            es.add(m);
            n.origin.put(m, at);
        }
        n.entries = es;
        return n;
    }

    static Msg readEntry(MemorySegment page, long e) {
        return readEntry(page, e, NodeLayout.u16(page, e), page.get(NodeLayout.INT, e + 4));
    }

    /**
     * Decodes the entry at {@code e} with lengths the caller already read (and, for an optimistic
     * reader, bounds-checked): re-reading them here could see a concurrent writer's bytes.
     */
    static Msg readEntry(MemorySegment page, long e, int klen, int vlen) {
        int type = NodeLayout.u8(page, e + 2);
        int op = NodeLayout.u8(page, e + 3);
        byte[] key = bytes(page, e + ENTRY_HEADER, klen);
        byte[] value = (type & NodeLayout.KIND_MASK) == NodeLayout.DELETE ? null
                : bytes(page, e + ENTRY_HEADER + klen, vlen);
        return new Msg(key, type, op, value);
    }

    static byte[] bytes(MemorySegment m, long at, int len) {
        byte[] b = new byte[len];
        MemorySegment.copy(m, ValueLayout.JAVA_BYTE, at, b, 0, len);
        return b;
    }

    int bytes() {
        int n = HEADER + (leaf ? 0 : 8 * children.size());
        for (byte[] p : pivots) {
            n += NodeLayout.SLOT + 2 + p.length;
        }
        return n + entryBytes();
    }

    int entryBytes() {
        int n = 0;
        for (Msg m : entries) {
            n += m.footprint();
        }
        return n;
    }

    boolean fits() {
        return bytes() <= pageBytes;
    }

    /**
     * The node as a page image that keeps every pivot and entry still present at its old heap offset
     * (so that the diff against the page, which is what gets logged, is the slot arrays, the header
     * and the new items), or a compacted image when the free space between slots and heap is too small.
     */
    byte[] encode(MemorySegment current) {
        if (origin == null || origin.isEmpty() || current == null) {
            return encode();
        }
        int nc = leaf ? 0 : children.size();
        int slotsEnd = NodeLayout.slotBase(nc) + NodeLayout.SLOT * entries.size();
        int items = Math.max(0, nc - 1) + entries.size();
        long[] kept = new long[items]; // offset << 32 | size
        int nk = 0;
        int[] at = new int[items];
        for (int i = 0; i < nc - 1; i++) {
            Integer o = origin.get(pivots.get(i));
            at[i] = o == null ? -1 : o;
            if (o != null) {
                kept[nk++] = (long) o << 32 | (2 + pivots.get(i).length);
            }
        }
        int base = Math.max(0, nc - 1);
        for (int i = 0; i < entries.size(); i++) {
            Integer o = origin.get(entries.get(i));
            at[base + i] = o == null ? -1 : o;
            if (o != null) {
                kept[nk++] = (long) o << 32 | entrySize(entries.get(i));
            }
        }
        Arrays.sort(kept, 0, nk);
        if (nk > 0 && (int) (kept[0] >>> 32) < slotsEnd) {
            return encode();
        }
        // holes between the slot arrays and the kept items, and between kept items: [start, end)
        int[] holeStart = new int[nk + 1];
        int[] holeEnd = new int[nk + 1];
        int prevEnd = slotsEnd;
        for (int i = 0; i < nk; i++) {
            holeStart[i] = prevEnd;
            holeEnd[i] = (int) (kept[i] >>> 32);
            prevEnd = (int) (kept[i] >>> 32) + (int) kept[i];
        }
        holeStart[nk] = prevEnd;
        holeEnd[nk] = pageBytes;
        int lowest = nk == 0 ? pageBytes : (int) (kept[0] >>> 32);
        for (int i = 0; i < items; i++) {
            if (at[i] >= 0) {
                continue;
            }
            int size = i < base ? 2 + pivots.get(i).length : entrySize(entries.get(i - base));
            int h = nk;
            while (h >= 0 && holeEnd[h] - holeStart[h] < size) {
                h--;
            }
            if (h < 0) {
                return encode();
            }
            holeEnd[h] -= size;
            at[i] = holeEnd[h];
            lowest = Math.min(lowest, at[i]);
        }
        int free = pageBytes - bytes();
        if (lowest - slotsEnd < Math.min(pageBytes / 8, free / 2)) {
            // fragmented: most free space is in holes, where in-place edits (NodeEdit) cannot use it
            return encode();
        }
        byte[] img = current.toArray(ValueLayout.JAVA_BYTE);
        ByteBuffer b = ByteBuffer.wrap(img).order(ByteOrder.nativeOrder());
        b.putInt(NodeLayout.OFF_MAGIC, NodeLayout.MAGIC);
        b.putInt(NodeLayout.OFF_KIND, leaf ? NodeLayout.LEAF : NodeLayout.INTERNAL);
        b.putInt(NodeLayout.OFF_NCHILDREN, nc);
        b.putInt(NodeLayout.OFF_NENTRIES, entries.size());
        b.putInt(NodeLayout.OFF_PAGEBYTES, pageBytes);
        for (int i = 0; i < nc; i++) {
            b.putLong(HEADER + 8 * i, children.get(i));
        }
        for (int i = 0; i < nc - 1; i++) {
            byte[] p = pivots.get(i);
            if (origin.get(p) == null) {
                b.putShort(at[i], (short) p.length);
                System.arraycopy(p, 0, img, at[i] + 2, p.length);
            }
            b.putInt(HEADER + 8 * nc + 8 * i, at[i]);
            b.putInt(HEADER + 8 * nc + 8 * i + 4, NodeLayout.head(p));
        }
        int slots = NodeLayout.slotBase(nc);
        for (int i = 0; i < entries.size(); i++) {
            Msg m = entries.get(i);
            if (origin.get(m) == null) {
                writeEntry(b, img, at[base + i], m);
            }
            b.putInt(slots + 8 * i, at[base + i]);
            b.putInt(slots + 8 * i + 4, NodeLayout.head(m.key()));
        }
        b.putInt(NodeLayout.OFF_HEAP, lowest);
        return img;
    }

    private static int entrySize(Msg m) {
        return ENTRY_HEADER + m.key().length + (m.value() == null ? 0 : m.value().length);
    }

    /** The node as a compacted page image. */
    byte[] encode() {
        byte[] img = new byte[pageBytes];
        ByteBuffer b = ByteBuffer.wrap(img).order(ByteOrder.nativeOrder());
        int nc = leaf ? 0 : children.size();
        int heap = pageBytes;
        b.putInt(NodeLayout.OFF_MAGIC, NodeLayout.MAGIC);
        b.putInt(NodeLayout.OFF_KIND, leaf ? NodeLayout.LEAF : NodeLayout.INTERNAL);
        b.putInt(NodeLayout.OFF_NCHILDREN, nc);
        b.putInt(NodeLayout.OFF_NENTRIES, entries.size());
        b.putInt(NodeLayout.OFF_PAGEBYTES, pageBytes);
        for (int i = 0; i < nc; i++) {
            b.putLong(HEADER + 8 * i, children.get(i));
        }
        for (int i = 0; i < nc - 1; i++) {
            byte[] p = pivots.get(i);
            heap -= 2 + p.length;
            b.putShort(heap, (short) p.length);
            System.arraycopy(p, 0, img, heap + 2, p.length);
            b.putInt(HEADER + 8 * nc + 8 * i, heap);
            b.putInt(HEADER + 8 * nc + 8 * i + 4, NodeLayout.head(p));
        }
        int slots = NodeLayout.slotBase(nc);
        // entries are laid out from the page end in reverse order, so appends of high keys
        // (sequential loads) change little of an existing image
        for (int i = 0; i < entries.size(); i++) {
            Msg m = entries.get(i);
            int vlen = m.value() == null ? 0 : m.value().length;
            heap -= ENTRY_HEADER + m.key().length + vlen;
            writeEntry(b, img, heap, m);
            b.putInt(slots + 8 * i, heap);
            b.putInt(slots + 8 * i + 4, NodeLayout.head(m.key()));
        }
        if (heap < slots + 8 * entries.size()) {
            throw new IllegalStateException("node overflows its page: " + bytes() + " > " + pageBytes);
        }
        b.putInt(NodeLayout.OFF_HEAP, heap);
        return img;
    }

    static void writeEntry(ByteBuffer b, byte[] img, int at, Msg m) {
        int vlen = m.value() == null ? 0 : m.value().length;
        b.putShort(at, (short) m.key().length);
        img[at + 2] = (byte) m.type();
        img[at + 3] = (byte) m.operator();
        b.putInt(at + 4, vlen);
        System.arraycopy(m.key(), 0, img, at + ENTRY_HEADER, m.key().length);
        if (vlen > 0) {
            System.arraycopy(m.value(), 0, img, at + ENTRY_HEADER + m.key().length, vlen);
        }
    }

    /** One entry's bytes as stored in the heap. */
    static byte[] entryImage(Msg m) {
        int vlen = m.value() == null ? 0 : m.value().length;
        byte[] img = new byte[ENTRY_HEADER + m.key().length + vlen];
        writeEntry(ByteBuffer.wrap(img).order(ByteOrder.nativeOrder()), img, 0, m);
        return img;
    }

    /** Index of the child for {@code key}. */
    int childFor(byte[] key) {
        int lo = 0;
        int hi = pivots.size();
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (Keys.compare(pivots.get(mid), key) <= 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }
}
