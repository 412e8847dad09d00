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
            if (page.get(NodeLayout.INT, 0) != MAGIC) {
                throw new CorruptionException("page 0 of " + store.directory() + " is not an index catalog");
            }
            int count = page.get(NodeLayout.INT, 4);
            int at = 8;
            for (int i = 0; i < count; i++) {
                int len = NodeLayout.u16(page, at);
                String n = new String(Node.bytes(page, at + 2, len), StandardCharsets.UTF_8);
                long root = page.get(NodeLayout.LONG, at + 2 + len);
                int lb = page.get(NodeLayout.INT, at + 10 + len);
                int ib = page.get(NodeLayout.INT, at + 14 + len);
                if (n.equals(name)) {
                    return new Entry(name, root, lb, ib);
                }
                at += 18 + len;
            }
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
