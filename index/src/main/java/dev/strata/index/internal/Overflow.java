package dev.strata.index.internal;

import dev.strata.compute.PageStore;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Values too large for a node live in a chain of overflow pages, written once and never changed:
 *
 * <pre>
 *  0          8          12         16
 *  +----------+----------+----------+------------------+
 *  | next id  | length   | reserved | value bytes ...  |
 *  +----------+----------+----------+------------------+
 * </pre>
 *
 * A node entry refers to the chain by a 12-byte pointer: u64 first page, u32 total length. Each
 * chain has exactly one entry referring to it: the writer frees the chain ({@link #free}) in the
 * batch that replaces, deletes or supersedes that entry.
 */
final class Overflow {
    static final int HEADER = 16;
    static final int MAX_PAGE = 256 * 1024;

    private Overflow() {}

    /** Pages of the chain of a value of {@code length} bytes. */
    static int chunks(int length) {
        return Math.max(1, (length + MAX_PAGE - HEADER - 1) / (MAX_PAGE - HEADER));
    }

    static byte[] write(Txn txn, byte[] value) {
        int chunks = chunks(value.length);
        long[] ids = new long[chunks];
        int[] lens = new int[chunks];
        int left = value.length;
        for (int i = 0; i < chunks; i++) {
            lens[i] = Math.min(left, MAX_PAGE - HEADER);
            left -= lens[i];
            int size = Math.max(4096, Integer.highestOneBit(lens[i] + HEADER - 1) << 1);
            ids[i] = txn.allocatePage(Math.min(MAX_PAGE, size));
        }
        int at = 0;
        for (int i = 0; i < chunks; i++) {
            byte[] page = new byte[HEADER + lens[i]];
            ByteBuffer b = ByteBuffer.wrap(page).order(ByteOrder.nativeOrder());
            b.putLong(0, i + 1 < chunks ? ids[i + 1] : 0);
            b.putInt(8, lens[i]);
            System.arraycopy(value, at, page, HEADER, lens[i]);
            at += lens[i];
            txn.write(ids[i], 0, page);
        }
        return pointer(ids[0], value.length);
    }

    /** Frees the pages of the chain {@code pointer} refers to, with the writer's batch. */
    static void free(Txn txn, byte[] pointer) {
        ByteBuffer p = ByteBuffer.wrap(pointer).order(ByteOrder.nativeOrder());
        long id = p.getLong(0);
        int length = p.getInt(8);
        int chunks = chunks(length);
        for (int i = 0; i < chunks; i++) {
            long next = i + 1 < chunks ? txn.x(id).segment().get(NodeLayout.LONG, 0) : 0;
            txn.free(id);
            id = next;
        }
    }

    static byte[] pointer(long first, int length) {
        return ByteBuffer.allocate(NodeLayout.POINTER_BYTES).order(ByteOrder.nativeOrder())
                .putLong(first).putInt(length).array();
    }

    static byte[] read(PageStore store, byte[] pointer) {
        ByteBuffer p = ByteBuffer.wrap(pointer).order(ByteOrder.nativeOrder());
        return read(store, p.getLong(0), p.getInt(8));
    }

    static byte[] read(PageStore store, long first, int length) {
        byte[] out = new byte[length];
        long[] next = new long[1];
        int[] got = new int[1];
        int at = 0;
        long id = first;
        while (at < length) {
            long cur = id;
            int from = at;
            store.readOptimistic(cur, seg -> {
                int len = seg.get(NodeLayout.INT, 8);
                if (len < 0 || len > seg.byteSize() - HEADER || from + len > length) {
                    throw new dev.strata.core.CorruptionException("bad overflow page " + cur);
                }
                MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, HEADER, out, from, len);
                next[0] = seg.get(NodeLayout.LONG, 0);
                got[0] = len;
                return null;
            });
            at += got[0];
            id = next[0];
            if ((id == 0 || got[0] == 0) && at < length) {
                throw new dev.strata.core.CorruptionException("overflow chain from " + first + " ends early");
            }
        }
        return out;
    }

    /** Reads a chain while the writer may hold some of its pages latched: through the writer's latches. */
    static byte[] read(Txn txn, byte[] pointer) {
        ByteBuffer p = ByteBuffer.wrap(pointer).order(ByteOrder.nativeOrder());
        int length = p.getInt(8);
        byte[] out = new byte[length];
        int at = 0;
        long id = p.getLong(0);
        while (at < length) {
            MemorySegment seg = txn.x(id).segment();
            int len = seg.get(NodeLayout.INT, 8);
            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, HEADER, out, at, len);
            at += len;
            id = seg.get(NodeLayout.LONG, 0);
        }
        return out;
    }
}
