package dev.strata.index.internal;

import dev.strata.compute.PageHandle;
import dev.strata.compute.PageStore;
import dev.strata.compute.WriteBatch;
import dev.strata.core.CorruptionException;
import dev.strata.core.PageId;
import dev.strata.core.StrataException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The catalog of named indexes: page 0 of the store's partition, created with the first index.
 *
 * <pre>
 *  0        4        8
 *  +--------+--------+--------------------------------------------------------------+
 *  | magic  | count  | entries: u16 name length, UTF-8 name, u64 root page,          |
 *  |        |        |          u32 leaf bytes, u32 internal bytes                   |
 *  +--------+--------+--------------------------------------------------------------+
 * </pre>
 *
 * Thread-safe (callers serialize on the class).
 */
public final class Catalog {
    static final int MAGIC = 0x53434154; // "SCAT"
    static final int PAGE_BYTES = 16384;
    static final int MAX_NAME = 255;

    /** A catalog entry. */
    public record Entry(String name, long root, int leafBytes, int internalBytes) {}

    private Catalog() {}

    /** The entry of {@code name}, or {@code null} if the store has no such index. */
    public static synchronized Entry find(PageStore store, String name) {
        long cat = PageId.of(store.config().partition(), 0);
        if (!store.isAllocated(cat)) {
            return null;
        }
        try (PageHandle h = store.fixShared(cat)) {
            int[] at = new int[1];
            return locate(store, h.segment(), name, at);
        }
    }

    /**
     * Removes the entry of {@code name} with {@code batch} (the entries after it move up).
     *
     * @throws IllegalArgumentException if there is no such index
     */
    public static synchronized void remove(PageStore store, WriteBatch batch, String name) {
        long cat = PageId.of(store.config().partition(), 0);
        try (PageHandle h = store.fixExclusive(cat)) {
            MemorySegment page = h.segment();
            int[] at = new int[1];
            Entry e = locate(store, page, name, at);
            if (e == null) {
                throw new IllegalArgumentException("no index '" + name + "' in " + store.directory());
            }
            int size = 18 + name.getBytes(StandardCharsets.UTF_8).length;
            int count = page.get(NodeLayout.INT, 4);
            int end = at[0];
            for (int i = 0, p = 8; i < count; i++) {
                p += 18 + NodeLayout.u16(page, p);
                end = p;
            }
            batch.move(h, at[0] + size, at[0], end - at[0] - size);
            batch.write(h, 4, ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(count - 1).array());
        }
    }

    /** Finds {@code name} in the catalog page; {@code at[0]} is then its offset (else the end of the entries). */
    private static Entry locate(PageStore store, MemorySegment page, String name, int[] at) {
        if (page.get(NodeLayout.INT, 0) != MAGIC) {
            throw new CorruptionException("page 0 of " + store.directory() + " is not an index catalog");
        }
        int count = page.get(NodeLayout.INT, 4);
        int p = 8;
        for (int i = 0; i < count; i++) {
            int len = NodeLayout.u16(page, p);
            String n = new String(Node.bytes(page, p + 2, len), StandardCharsets.UTF_8);
            if (n.equals(name)) {
                at[0] = p;
                return new Entry(name, page.get(NodeLayout.LONG, p + 2 + len),
                        page.get(NodeLayout.INT, p + 10 + len), page.get(NodeLayout.INT, p + 14 + len));
            }
            p += 18 + len;
        }
        at[0] = p;
        return null;
    }

    /** Finds {@code name}, creating the catalog and an empty tree with the given node sizes if needed. */
    public static synchronized Entry openOrCreate(PageStore store, String name, int leafBytes, int internalBytes) {
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        if (nameBytes.length == 0 || nameBytes.length > MAX_NAME) {
            throw new IllegalArgumentException("index name must be 1.." + MAX_NAME + " bytes: '" + name + "'");
        }
        long cat = PageId.of(store.config().partition(), 0);
        if (!store.isAllocated(cat)) {
            try (WriteBatch b = store.newBatch()) {
                long id = b.allocate(PAGE_BYTES);
                if (id != cat) {
                    throw new StrataException("store " + store.directory() + " holds pages but no index catalog at page 0");
                }
                try (PageHandle h = store.fixExclusive(cat)) {
                    b.write(h, 0, ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putInt(MAGIC).putInt(0).array());
                }
                b.commit();
            }
        }
        try (WriteBatch b = store.newBatch(); PageHandle h = store.fixExclusive(cat)) {
            MemorySegment page = h.segment();
            int[] found = new int[1];
            Entry existing = locate(store, page, name, found);
            if (existing != null) {
                return existing;
            }
            int count = page.get(NodeLayout.INT, 4);
            int at = found[0];
            int size = 18 + nameBytes.length;
            if (at + size > PAGE_BYTES) {
                throw new StrataException("index catalog of " + store.directory() + " is full");
            }
            long root = b.allocate(internalBytes);
            try (PageHandle r = store.fixExclusive(root)) {
                b.write(r, 0, BeTree.emptyRootImage(internalBytes));
            }
            ByteBuffer e = ByteBuffer.allocate(size).order(ByteOrder.nativeOrder());
            e.putShort((short) nameBytes.length).put(nameBytes).putLong(root).putInt(leafBytes).putInt(internalBytes);
            b.write(h, at, e.array());
            b.write(h, 4, ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(count + 1).array());
            b.commit();
            return new Entry(name, root, leafBytes, internalBytes);
        }
    }
}
