package dev.strata.index.internal;

import static dev.strata.index.internal.NodeLayout.ENTRY_HEADER;
import static dev.strata.index.internal.NodeLayout.INT;
import static dev.strata.index.internal.NodeLayout.LEAF;
import static dev.strata.index.internal.NodeLayout.PUT;
import static dev.strata.index.internal.NodeLayout.SLOT;
import static dev.strata.index.internal.NodeLayout.UPSERT;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * Small changes made directly on a latched node page, without decoding it: sorted messages merged
 * into a leaf's records or into an internal node's buffer. Only the slot array's changed suffix is
 * rebuilt; new entries are appended below the heap and replaced or dropped entries become garbage
 * (reclaimed when the node is next re-encoded by {@link Node}). Logged as at most three deltas: the
 * new entries, the slot suffix, and the header's entry count and heap start.
 *
 * <p>The merge follows {@link BeTree#applyToRecords} for leaves and {@link BeTree#mergeBuffer} for
 * buffers: messages of one key are applied oldest first, and in a buffer a PUT or DELETE drops the
 * older messages of its key. It declines (returns {@code false} having changed nothing) when the free
 * gap between slots and heap is too small, when a leaf would become empty (its parent must drop it),
 * or when a leaf message is an UPSERT (which needs the record's old value); the caller then takes
 * the decoding path, which compacts, flushes and splits. Used by the writer only, under the
 * exclusive latches of its {@link Txn}; never on a node the transaction already decoded.
 */
final class NodeEdit {
    private NodeEdit() {}

    static boolean tryMerge(Txn txn, long pageId, List<Msg> msgs) {
        MemorySegment page = txn.x(pageId).segment();
        boolean leaf = page.get(INT, NodeLayout.OFF_KIND) == LEAF;
        int nc = page.get(INT, NodeLayout.OFF_NCHILDREN);
        int ne = page.get(INT, NodeLayout.OFF_NENTRIES);
        int heap = page.get(INT, NodeLayout.OFF_HEAP);
        int slotBase = NodeLayout.slotBase(nc);
        int n = msgs.size();
        // the free gap bounds what can be appended: give up as soon as the plan exceeds it, so that a
        // large batch that will take the decoding path (a sequential load's 10,000 messages) costs
        // a few entries here, not a pass over all of them
        long gap = heap - slotBase - (long) SLOT * ne;
        // plan: per key group [gs, ge), the first message kept (leaf: the one record written, or none)
        int[] keepFrom = new int[n];
        int appended = 0;
        int maxSlots = ne;
        int groups = 0;
        for (int gs = 0; gs < n; ) {
            byte[] key = msgs.get(gs).key();
            int ge = gs + 1;
            while (ge < n && Keys.equal(msgs.get(ge).key(), key)) {
                ge++;
            }
            int base = -1;
            for (int k = ge - 1; k >= gs; k--) {
                int kind = msgs.get(k).kind();
                if (kind != UPSERT) {
                    base = k;
                    break;
                }
                if (leaf) {
                    return false;
                }
            }
            int from;
            if (leaf) {
                from = msgs.get(base).kind() == PUT ? base : ge; // a DELETE writes nothing
            } else {
                from = base >= 0 ? base : gs;
            }
            keepFrom[groups++] = from;
            for (int k = from; k < ge; k++) {
                appended += entrySize(msgs.get(k));
            }
            maxSlots += ge - from;
            if (appended + (long) SLOT * (maxSlots - ne) > gap) {
                return false;
            }
            gs = ge;
        }
        int newHeap = heap - appended;
        if (appended > heap || (long) slotBase + (long) SLOT * maxSlots > newHeap) {
            return false;
        }
        byte[] oldSlots = page.asSlice(slotBase, (long) SLOT * ne).toArray(ValueLayout.JAVA_BYTE);
        int first = lowerBound(page, oldSlots, 0, ne, msgs.get(0).key());
        byte[] slots = new byte[SLOT * (maxSlots - first)];
        int[] net = leaf ? null : new int[nc]; // per child: slots added minus slots dropped
        byte[] block = new byte[appended];
        int cursor = heap;
        int count = 0; // slots written to slots
        int old = first; // next old slot to copy
        int g = 0;
        for (int gs = 0; gs < n; g++) {
            byte[] key = msgs.get(gs).key();
            int ge = gs + 1;
            while (ge < n && Keys.equal(msgs.get(ge).key(), key)) {
                ge++;
            }
            int i = lowerBound(page, oldSlots, old, ne, key);
            int j = i;
            while (j < ne && equalKey(page, oldSlots, j, key)) {
                j++;
            }
            System.arraycopy(oldSlots, SLOT * old, slots, SLOT * count, SLOT * (i - old));
            count += i - old;
            int from = keepFrom[g];
            boolean replaces = leaf || msgs.get(from).kind() != UPSERT;
            if (!replaces) {
                // only upserts for this key: they queue behind the buffered messages
                System.arraycopy(oldSlots, SLOT * i, slots, SLOT * count, SLOT * (j - i));
                count += j - i;
            }
            if (!leaf) {
                net[NodeLayout.findChild(page, 0, nc, key)] += (ge - from) - (replaces ? j - i : 0);
            }
            int head = NodeLayout.head(key);
            for (int k = from; k < ge; k++) {
                Msg m = msgs.get(k);
                if (leaf && m.operator() != 0) {
                    m = new Msg(m.key(), m.type(), 0, m.value());
                }
                cursor -= entrySize(m);
                Node.writeEntry(block, cursor - newHeap, m);
                Node.I32.set(slots, SLOT * count, cursor);
                Node.I32.set(slots, SLOT * count + 4, head);
                count++;
            }
            old = j;
            gs = ge;
        }
        System.arraycopy(oldSlots, SLOT * old, slots, SLOT * count, SLOT * (ne - old));
        count += ne - old;
        int newEntries = first + count;
        if (leaf && newEntries == 0) {
            return false;
        }
        if (appended > 0) {
            txn.write(pageId, newHeap, block);
        }
        if (count > 0) {
            txn.write(pageId, slotBase + (long) SLOT * first,
                    MemorySegment.ofArray(slots).asSlice(0, (long) SLOT * count));
        }
        if (!leaf) {
            writeStarts(txn, pageId, page, nc, net);
        }
        byte[] hdr = new byte[8];
        MemorySegment h = MemorySegment.ofArray(hdr);
        h.set(INT, 0, newEntries);
        h.set(INT, 4, newHeap);
        txn.write(pageId, NodeLayout.OFF_NENTRIES, hdr);
        return true;
    }

    /** Shifts the child starts by the slots added to (or dropped from) the children before each; logs the changed suffix. */
    private static void writeStarts(Txn txn, long pageId, MemorySegment page, int nc, int[] net) {
        // child k's start moves by the net change of children 0 .. k-1; find the first that moves
        int from = 1;
        int shift = net[0];
        while (from < nc && shift == 0) {
            shift += net[from++];
        }
        if (from >= nc) {
            return;
        }
        byte[] starts = new byte[2 * (nc - from)];
        MemorySegment s = MemorySegment.ofArray(starts);
        for (int k = from; k < nc; k++) {
            s.set(NodeLayout.SHORT, 2L * (k - from), (short) (NodeLayout.childStart(page, 0, nc, k) + shift));
            shift += net[k];
        }
        txn.write(pageId, NodeLayout.startsBase(nc) + 2L * from, starts);
    }

    /** First slot in {@code [lo, ne)} whose key is {@code >= key}, comparing heads in the slot copy first. */
    private static int lowerBound(MemorySegment page, byte[] slots, int lo, int ne, byte[] key) {
        int kh = NodeLayout.head(key);
        int hi = ne;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            int c = Integer.compareUnsigned((int) Node.I32.get(slots, SLOT * mid + 4), kh);
            if (c == 0) {
                long e = (int) Node.I32.get(slots, SLOT * mid);
                c = NodeLayout.compare(page, e + ENTRY_HEADER, NodeLayout.u16(page, e), key);
            }
            if (c < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private static boolean equalKey(MemorySegment page, byte[] slots, int i, byte[] key) {
        if ((int) Node.I32.get(slots, SLOT * i + 4) != NodeLayout.head(key)) {
            return false;
        }
        long e = (int) Node.I32.get(slots, SLOT * i);
        return NodeLayout.compare(page, e + ENTRY_HEADER, NodeLayout.u16(page, e), key) == 0;
    }

    private static int entrySize(Msg m) {
        return Node.entrySize(m);
    }
}
