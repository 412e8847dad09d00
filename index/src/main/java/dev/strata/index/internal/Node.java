package dev.strata.index.internal;

import static dev.strata.index.internal.NodeLayout.ENTRY_HEADER;
import static dev.strata.index.internal.NodeLayout.HEADER;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
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
    /** Heap offsets of the pivots decoded from the page (by identity); entries carry theirs. */
    IdentityHashMap<Object, Integer> origin;
    /** True when decoded from its page (so unchanged items may keep their offsets). */
    boolean decoded;
    /** How the current batch has changed this node so far; decides how a split divides it. */
    private byte growth;
    private static final byte UNCHANGED = 0;
    /** Where a change of this batch went: past the node's end, before its start, or elsewhere. */
    static final byte AT_END = 1;
    static final byte AT_START = 2;
    static final byte ELSEWHERE = 3;
    /** A change that added records only between two neighbouring ones: before {@link #gapEnd()}. */
    static final byte IN_GAP = 4;
    /** With {@link #IN_GAP}: the key of the record the added ones went before. */
    private byte[] gapEnd;

    Node(long pageId, int pageBytes, boolean leaf) {
        this.pageId = pageId;
        this.pageBytes = pageBytes;
        this.leaf = leaf;
    }

    static final VarHandle I32 = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.nativeOrder());
    private static final VarHandle I64 = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.nativeOrder());
    private static final VarHandle I16 = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.nativeOrder());

    static Node decode(long pageId, MemorySegment page) {
        return decode(pageId, page, null);
    }

    /**
     * Decodes {@code page} into {@code img} (an array of the page's size whose previous content does not
     * matter, or null for a new one): the decoded entries' values stay ranges of it, so it must not be reused
     * while any of them is reachable.
     */
    static Node decode(long pageId, MemorySegment page, byte[] img) {
        int magic = page.get(NodeLayout.INT, NodeLayout.OFF_MAGIC);
        if (magic != NodeLayout.MAGIC) {
            throw new dev.strata.core.CorruptionException("page " + dev.strata.core.PageId.toString(pageId)
                    + " is not an index node (magic " + Integer.toHexString(magic) + ")");
        }
        // two bulk copies (header and slots; heap), then plain array reads: cheaper than a checked
        // segment access per field; the free gap between them is not copied
        int size = (int) page.byteSize();
        int kind = page.get(NodeLayout.INT, NodeLayout.OFF_KIND);
        int nc = page.get(NodeLayout.INT, NodeLayout.OFF_NCHILDREN);
        int ne = page.get(NodeLayout.INT, NodeLayout.OFF_NENTRIES);
        int heap = page.get(NodeLayout.INT, NodeLayout.OFF_HEAP);
        int slotsEnd = NodeLayout.slotBase(nc) + NodeLayout.SLOT * ne;
        if (nc < 0 || ne < 0 || slotsEnd > size || heap < slotsEnd || heap > size) {
            throw new dev.strata.core.CorruptionException("index node " + dev.strata.core.PageId.toString(pageId)
                    + " has a bad header: " + nc + " children, " + ne + " entries, heap at " + heap);
        }
        if (img == null || img.length != size) {
            img = new byte[size];
        }
        MemorySegment.copy(page, ValueLayout.JAVA_BYTE, 0, img, 0, slotsEnd);
        MemorySegment.copy(page, ValueLayout.JAVA_BYTE, heap, img, heap, size - heap);
        Node n = new Node(pageId, img.length, kind == NodeLayout.LEAF);
        n.origin = nc > 1 ? new IdentityHashMap<>(2 * nc) : null;
        for (int i = 0; i < nc; i++) {
            n.children.add((long) I64.get(img, HEADER + 8 * i));
        }
        for (int i = 0; i < nc - 1; i++) {
            int p = (int) I32.get(img, HEADER + 8 * nc + 8 * i);
            int len = (short) I16.get(img, p) & 0xFFFF;
            byte[] pivot = Arrays.copyOfRange(img, p + 2, p + 2 + len);
            n.pivots.add(pivot);
            n.origin.put(pivot, p);
        }
        List<Msg> es = new ArrayList<>(ne + 16);
        int slots = NodeLayout.slotBase(nc);
        for (int i = 0; i < ne; i++) {
            int at = (int) I32.get(img, slots + 8 * i);
            int klen = (short) I16.get(img, at) & 0xFFFF;
            int type = img[at + 2] & 0xFF;
            int vlen = (int) I32.get(img, at + 4);
            int k0 = at + ENTRY_HEADER;
            if (vlen < 0 || k0 + klen + vlen > size) {
                throw new dev.strata.core.CorruptionException("index node " + dev.strata.core.PageId.toString(pageId)
                        + " has an entry past its page end at offset " + at);
            }
            byte[] key = Arrays.copyOfRange(img, k0, k0 + klen);
            // the value stays in the image: most decoded entries are re-encoded or flushed, not read
            Msg m = (type & NodeLayout.KIND_MASK) == NodeLayout.DELETE
                    ? new Msg(key, type, img[at + 3] & 0xFF, null)
                    : new Msg(key, type, img[at + 3] & 0xFF, img, k0 + klen, vlen);
            m.originPage = pageId;
            m.originOffset = at;
            es.add(m);
        }
        n.entries = es;
        n.decoded = true;
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
        int n = HEADER + (leaf ? 0 : 8 * children.size() + NodeLayout.startsBytes(children.size()));
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
     * Records a change of this batch: {@link #AT_END} if it only added records (or children) after all
     * the node had, as a load in ascending key order does; {@link #AT_START} if only before them (a
     * descending load); {@link #ELSEWHERE} otherwise. Changes at both ends make it changed elsewhere.
     */
    void grew(byte where) {
        growth = growth == UNCHANGED || growth == where && where != IN_GAP ? where : ELSEWHERE;
    }

    /**
     * Records a change of this batch that added records only between two neighbouring ones, all before the record
     * of key {@code before}: as an ascending load does that runs into keys another load put there (two writers
     * loading neighbouring ranges in order). A second change of the batch makes it changed elsewhere.
     */
    void grewInGap(byte[] before) {
        grew(IN_GAP);
        gapEnd = growth == IN_GAP ? before : null;
    }

    /** With {@link #growth()} {@link #IN_GAP}: the key of the record the added ones went before. */
    byte[] gapEnd() {
        return gapEnd;
    }

    /**
     * {@link #AT_END} if every change of this batch added past the node's end, {@link #AT_START} if every
     * change added before its start, else something else. Such a node is split with the parts the load
     * has passed full: an ascending load never comes back to the first parts, a descending one to the
     * last, so half-full parts would stay half full (B-trees' rightmost split; LMDB's {@code MDB_APPEND}
     * fills its pages too).
     */
    byte growth() {
        return growth;
    }

    /** Takes over how {@code other} was changed (a root's content moving into a new child). */
    void growthOf(Node other) {
        growth = other.growth;
        gapEnd = other.gapEnd;
    }

    /**
     * The node as a page image that keeps every pivot and entry still present at its old heap offset
     * (so that the diff against the page, which is what gets logged, is the slot arrays, the header
     * and the new items); a compacted image if nothing of the page is kept; or {@code null} when the
     * page must be compacted (the slots would reach a kept item, or most free space is in holes): then
     * {@link Txn#writeCompacted} slides the kept items instead. {@code scratch}, an array of the page's size
     * (or null), receives the copy of {@code current} the image starts from instead of a new array.
     */
    byte[] encode(MemorySegment current, byte[] scratch) {
        if (!decoded || current == null) {
            return encode();
        }
        int nc = leaf ? 0 : children.size();
        int slotsEnd = NodeLayout.slotBase(nc) + NodeLayout.SLOT * entries.size();
        int items = Math.max(0, nc - 1) + entries.size();
        int nk = 0;
        int lowest = pageBytes; // lowest kept item
        int topStart = slotsEnd; // end of the highest kept item
        int[] at = new int[items];
        for (int i = 0; i < nc - 1; i++) {
            Integer o = origin == null ? null : origin.get(pivots.get(i));
            at[i] = o == null ? -1 : o;
            if (o != null) {
                nk++;
                lowest = Math.min(lowest, o);
                topStart = Math.max(topStart, o + 2 + pivots.get(i).length);
            }
        }
        int base = Math.max(0, nc - 1);
        for (int i = 0; i < entries.size(); i++) {
            int o = entries.get(i).originIn(pageId);
            at[base + i] = o;
            if (o >= 0) {
                nk++;
                lowest = Math.min(lowest, o);
                topStart = Math.max(topStart, o + entrySize(entries.get(i)));
            }
        }
        if (nk == 0) {
            return encode();
        }
        if (lowest < slotsEnd) {
            return null;
        }
        // new items go to the hole above the highest kept item, then below the lowest one; the holes
        // between kept items wait for the next compaction
        int top = pageBytes;
        for (int i = 0; i < items; i++) {
            if (at[i] >= 0) {
                continue;
            }
            int size = i < base ? 2 + pivots.get(i).length : entrySize(entries.get(i - base));
            if (top - size >= topStart) {
                top -= size;
                at[i] = top;
            } else {
                lowest -= size;
                at[i] = lowest;
            }
        }
        lowest = Math.min(lowest, top);
        int free = pageBytes - bytes();
        if (lowest - slotsEnd < Math.min(pageBytes / 8, free / 2)) {
            // fragmented (or out of room): most free space is in holes, where in-place edits
            // (NodeEdit) cannot use it
            return null;
        }
        byte[] img;
        if (scratch != null && scratch.length == current.byteSize()) {
            img = scratch;
            MemorySegment.copy(current, ValueLayout.JAVA_BYTE, 0, img, 0, img.length);
        } else {
            img = current.toArray(ValueLayout.JAVA_BYTE);
        }
        for (int i = 0; i < items; i++) {
            if (itemOrigin(i) < 0) {
                writeItem(img, at[i], i);
            }
        }
        writeFront(img, at, lowest);
        return img;
    }

    /** Number of heap items: pivots, then entries. */
    int items() {
        return (leaf ? 0 : Math.max(0, children.size() - 1)) + entries.size();
    }

    /** Bytes item {@code i} (see {@link #items}) takes in the heap. */
    int itemSize(int i) {
        int base = leaf ? 0 : Math.max(0, children.size() - 1);
        return i < base ? 2 + pivots.get(i).length : entrySize(entries.get(i - base));
    }

    /** Heap offset item {@code i} has in this node's page, or -1 if it is new there. */
    int itemOrigin(int i) {
        int base = leaf ? 0 : Math.max(0, children.size() - 1);
        if (i < base) {
            Integer o = origin == null ? null : origin.get(pivots.get(i));
            return o == null ? -1 : o;
        }
        return entries.get(i - base).originIn(pageId);
    }

    /** End of the slot array: where the heap may start at the lowest. */
    int slotsEnd() {
        return NodeLayout.slotBase(leaf ? 0 : children.size()) + NodeLayout.SLOT * entries.size();
    }

    /** Writes the bytes of new item {@code i} at {@code at} of {@code img}. */
    void writeItem(byte[] img, int at, int i) {
        int base = leaf ? 0 : Math.max(0, children.size() - 1);
        if (i < base) {
            byte[] p = pivots.get(i);
            I16.set(img, at, (short) p.length);
            System.arraycopy(p, 0, img, at + 2, p.length);
        } else {
            writeEntry(img, at, entries.get(i - base));
        }
    }

    /**
     * Writes the page's front, {@code [0, slotsEnd())}: header, children, pivot and entry slots and child starts for
     * items placed at {@code at}, with the heap starting at {@code heap}, into the first bytes of {@code img} (an
     * array of at least {@link #slotsEnd()} bytes with any content), and returns its length.
     */
    int frontInto(byte[] img, int[] at, int heap) {
        int end = slotsEnd();
        Arrays.fill(img, 0, NodeLayout.slotBase(leaf ? 0 : children.size()), (byte) 0); // spare header bytes, padding
        writeFront(img, at, heap);
        return end;
    }

    /** Writes the front (see {@link #frontInto}) into {@code img}, a page image or just its front. */
    private void writeFront(byte[] img, int[] at, int heap) {
        int nc = leaf ? 0 : children.size();
        writeHeader(img, nc);
        for (int i = 0; i < nc - 1; i++) {
            I32.set(img, HEADER + 8 * nc + 8 * i, at[i]);
            I32.set(img, HEADER + 8 * nc + 8 * i + 4, NodeLayout.head(pivots.get(i)));
        }
        int base = Math.max(0, nc - 1);
        int slots = NodeLayout.slotBase(nc);
        for (int i = 0; i < entries.size(); i++) {
            I32.set(img, slots + 8 * i, at[base + i]);
            I32.set(img, slots + 8 * i + 4, NodeLayout.head(entries.get(i).key()));
        }
        writeStarts(img, nc);
        I32.set(img, NodeLayout.OFF_HEAP, heap);
    }

    static int entrySize(Msg m) {
        return ENTRY_HEADER + m.key().length + m.valueLength();
    }

    /** The node as a compacted page image. */
    byte[] encode() {
        return encodeInto(new byte[pageBytes]);
    }

    /**
     * The node as a compacted page image in {@code img} (a page-sized array with any content), returned: its header,
     * pivots, slots and entries, {@code [0, slotBase + 8 * entries)} and {@code [heap, pageBytes)}; the gap between
     * them keeps whatever {@code img} held (only a fresh page's two written ranges are logged, see
     * {@link Txn}{@code .writeFresh}).
     */
    byte[] encodeInto(byte[] img) {
        int nc = leaf ? 0 : children.size();
        int heap = pageBytes;
        Arrays.fill(img, 0, NodeLayout.slotBase(nc), (byte) 0); // the header's spare bytes and the starts' padding
        writeHeader(img, nc);
        for (int i = 0; i < nc - 1; i++) {
            byte[] p = pivots.get(i);
            heap -= 2 + p.length;
            I16.set(img, heap, (short) p.length);
            System.arraycopy(p, 0, img, heap + 2, p.length);
            I32.set(img, HEADER + 8 * nc + 8 * i, heap);
            I32.set(img, HEADER + 8 * nc + 8 * i + 4, NodeLayout.head(p));
        }
        int slots = NodeLayout.slotBase(nc);
        // entries are laid out from the page end in reverse order, so appends of high keys
        // (sequential loads) change little of an existing image
        for (int i = 0; i < entries.size(); i++) {
            Msg m = entries.get(i);
            heap -= entrySize(m);
            if (heap < slots + 8 * entries.size()) {
                throw new IllegalStateException("node overflows its page: " + bytes() + " > " + pageBytes);
            }
            writeEntry(img, heap, m);
            I32.set(img, slots + 8 * i, heap);
            I32.set(img, slots + 8 * i + 4, NodeLayout.head(m.key()));
        }
        writeStarts(img, nc);
        I32.set(img, NodeLayout.OFF_HEAP, heap);
        return img;
    }

    /** Writes the child-start array: per child, the index of its first buffered entry. */
    private void writeStarts(byte[] img, int nc) {
        int at = NodeLayout.startsBase(nc);
        int i = 0;
        for (int c = 0; c < nc; c++) {
            if (c > 0) {
                byte[] p = pivots.get(c - 1);
                while (i < entries.size() && Keys.compare(entries.get(i).key(), p) < 0) {
                    i++;
                }
            }
            I16.set(img, at + 2 * c, (short) i);
        }
        for (int b = at + 2 * nc; b < NodeLayout.slotBase(nc); b++) {
            img[b] = 0;
        }
    }

    private void writeHeader(byte[] img, int nc) {
        I32.set(img, NodeLayout.OFF_MAGIC, NodeLayout.MAGIC);
        I32.set(img, NodeLayout.OFF_KIND, leaf ? NodeLayout.LEAF : NodeLayout.INTERNAL);
        I32.set(img, NodeLayout.OFF_NCHILDREN, nc);
        I32.set(img, NodeLayout.OFF_NENTRIES, entries.size());
        I32.set(img, NodeLayout.OFF_PAGEBYTES, pageBytes);
        for (int i = 0; i < nc; i++) {
            I64.set(img, HEADER + 8 * i, (long) children.get(i));
        }
    }

    /** Writes {@code m} as a heap entry at {@code at} of {@code img}. */
    static void writeEntry(byte[] img, int at, Msg m) {
        I16.set(img, at, (short) m.key().length);
        img[at + 2] = (byte) m.type();
        img[at + 3] = (byte) m.operator();
        I32.set(img, at + 4, m.valueLength());
        System.arraycopy(m.key(), 0, img, at + ENTRY_HEADER, m.key().length);
        m.copyValue(img, at + ENTRY_HEADER + m.key().length);
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
