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
 * older messages of its key; the overflow chains of what is dropped or replaced are freed. It
 * declines (returns {@code false} having changed nothing) when the free gap between slots and heap is
 * too small, when deletes would leave a leaf empty or below a quarter of its page (its parent must
 * drop it or join it with a neighbour), or when a leaf message is an UPSERT (which needs the record's
 * old value); the caller then takes the decoding path, which compacts, flushes and splits. Used by the writer only, under the
 * exclusive latches of its {@link Txn}; never on a node the transaction already decoded.
 */
final class NodeEdit {
    private NodeEdit() {}

    static boolean tryMerge(Txn txn, long pageId, List<Msg> list) {
        MemorySegment page = txn.x(pageId).segment();
        // an array, not the List: the callers pass three List classes, and the hot loops below then
        // compile to plain array reads instead of type-profiled interface calls that deoptimize
        Msg[] msgs = list.toArray(new Msg[0]);
        boolean leaf = page.get(INT, NodeLayout.OFF_KIND) == LEAF;
        int nc = page.get(INT, NodeLayout.OFF_NCHILDREN);
        int ne = page.get(INT, NodeLayout.OFF_NENTRIES);
        int heap = page.get(INT, NodeLayout.OFF_HEAP);
        int slotBase = NodeLayout.slotBase(nc);
        // the free gap bounds what can be appended: give up as soon as the plan exceeds it, so that a
        // large batch that will take the decoding path (a sequential load's 10,000 messages) costs
        // a few entries here, not a pass over all of them
        long gap = heap - slotBase - (long) SLOT * ne;
        Plan plan = plan(msgs, leaf, gap);
        if (plan == null) {
            return false;
        }
        int newHeap = heap - plan.appended;
        if (plan.appended > heap || (long) slotBase + (long) SLOT * (ne + plan.addedSlots) > newHeap) {
            return false;
        }
        Merged m = merge(page, msgs, plan, leaf, nc, ne, heap, slotBase);
        int newEntries = m.first + m.count;
        if (leaf && (newEntries == 0
                || plan.deletes && keptBytes(page, m, slotBase, heap, newHeap) < page.byteSize() / 4)) {
            return false;
        }
        for (byte[] pointer : m.freed) {
            Overflow.free(txn, pointer);
        }
        if (plan.appended > 0) {
            txn.write(pageId, newHeap, MemorySegment.ofArray(m.block).asSlice(0, plan.appended));
        }
        if (m.count > 0) {
            txn.write(pageId, slotBase + (long) SLOT * m.first,
                    MemorySegment.ofArray(m.slots).asSlice(0, (long) SLOT * m.count));
        }
        if (!leaf) {
            writeStarts(txn, pageId, page, nc, m.net);
        }
        byte[] hdr = new byte[8];
        MemorySegment h = MemorySegment.ofArray(hdr);
        h.set(INT, 0, newEntries);
        h.set(INT, 4, newHeap);
        txn.write(pageId, NodeLayout.OFF_NENTRIES, hdr);
        return true;
    }

    /**
     * A thread's arrays for {@link #merge}: the copy of the slot array, the new suffix and the appended entries
     * are dead once {@link #tryMerge} returns (the batch copies what it logs), so each thread (the writer, the
     * flush helper) reuses its own instead of allocating three per merge, most of a million merges per 20M
     * out-of-memory inserts. Only the first {@code n} bytes of each are meaningful.
     */
    private static final class Scratch {
        byte[] oldSlots = new byte[0];
        byte[] slots = new byte[0];
        byte[] block = new byte[0];

        static byte[] atLeast(byte[] a, int n) {
            return a.length >= n ? a : new byte[Math.max(n, 2 * a.length)];
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /**
     * Per key group, the first message kept ({@code keepFrom}; a leaf keeps the one record written, or
     * none), the bytes appended and the slots added at most. {@code keepFrom} is indexed by group.
     */
    private record Plan(int[] keepFrom, int appended, int addedSlots, boolean deletes) {}

    /**
     * The slot array's new suffix from slot {@code first} ({@code count} slots at the start of {@code slots}), the
     * appended entries (the plan's {@code appended} bytes at the start of {@code block}), per child the net slots
     * added, and the overflow pointers of the entries and messages dropped. Both arrays are the thread's
     * {@link Scratch}.
     */
    private record Merged(int first, int count, byte[] slots, byte[] block, int[] net, List<byte[]> freed) {}

    /** Plans the merge, or returns {@code null} when it needs more than {@code gap} bytes or a leaf meets an UPSERT. */
    private static Plan plan(Msg[] msgs, boolean leaf, long gap) {
        int n = msgs.length;
        int[] keepFrom = new int[n];
        int appended = 0;
        int added = 0;
        int groups = 0;
        boolean deletes = false;
        for (int gs = 0; gs < n; ) {
            byte[] key = msgs[gs].key();
            int ge = gs + 1;
            while (ge < n && Keys.equal(msgs[ge].key(), key)) {
                ge++;
            }
            int base = -1;
            for (int k = ge - 1; k >= gs; k--) {
                if (msgs[k].kind() != UPSERT) {
                    base = k;
                    break;
                }
                if (leaf) {
                    return null;
                }
            }
            int from;
            if (leaf) {
                from = msgs[base].kind() == PUT ? base : ge; // a DELETE writes nothing
                deletes |= from == ge;
            } else {
                from = base >= 0 ? base : gs;
            }
            keepFrom[groups++] = from;
            for (int k = from; k < ge; k++) {
                appended += entrySize(msgs[k]);
            }
            added += ge - from;
            if (appended + (long) SLOT * added > gap) {
                return null;
            }
            gs = ge;
        }
        return new Plan(keepFrom, appended, added, deletes);
    }

    /** Builds the new entries and the slot array's changed suffix from the page's current slots. */
    private static Merged merge(MemorySegment page, Msg[] msgs, Plan plan, boolean leaf, int nc, int ne, int heap,
            int slotBase) {
        int n = msgs.length;
        int newHeap = heap - plan.appended;
        Scratch scratch = SCRATCH.get();
        byte[] oldSlots = scratch.oldSlots = Scratch.atLeast(scratch.oldSlots, SLOT * ne);
        MemorySegment.copy(page, ValueLayout.JAVA_BYTE, slotBase, oldSlots, 0, SLOT * ne);
        int first = lowerBound(page, oldSlots, 0, ne, msgs[0].key());
        byte[] slots = scratch.slots = Scratch.atLeast(scratch.slots, SLOT * (ne + plan.addedSlots - first));
        int[] net = leaf ? null : new int[nc]; // per child: slots added minus slots dropped
        byte[] block = scratch.block = Scratch.atLeast(scratch.block, plan.appended);
        List<byte[]> freed = new java.util.ArrayList<>(0);
        int cursor = heap;
        int count = 0; // slots written to slots
        int old = first; // next old slot to copy
        int g = 0;
        for (int gs = 0; gs < n; g++) {
            byte[] key = msgs[gs].key();
            int ge = gs + 1;
            while (ge < n && Keys.equal(msgs[ge].key(), key)) {
                ge++;
            }
            int i = lowerBound(page, oldSlots, old, ne, key);
            int j = i;
            while (j < ne && equalKey(page, oldSlots, j, key)) {
                j++;
            }
            System.arraycopy(oldSlots, SLOT * old, slots, SLOT * count, SLOT * (i - old));
            count += i - old;
            int from = plan.keepFrom[g];
            boolean replaces = leaf || msgs[from].kind() != UPSERT;
            if (!replaces) {
                // only upserts for this key: they queue behind the buffered messages
                System.arraycopy(oldSlots, SLOT * i, slots, SLOT * count, SLOT * (j - i));
                count += j - i;
            } else {
                for (int k = i; k < j; k++) {
                    long e = (int) Node.I32.get(oldSlots, SLOT * k);
                    if ((NodeLayout.u8(page, e + 2) & NodeLayout.OVERFLOW) != 0) {
                        long value = e + ENTRY_HEADER + NodeLayout.u16(page, e);
                        freed.add(Node.bytes(page, value, NodeLayout.POINTER_BYTES));
                    }
                }
            }
            for (int k = gs; k < from && k < ge; k++) {
                if (msgs[k].overflow()) {
                    freed.add(msgs[k].value());
                }
            }
            if (!leaf) {
                net[NodeLayout.findChild(page, 0, nc, key)] += (ge - from) - (replaces ? j - i : 0);
            }
            int head = NodeLayout.head(key);
            for (int k = from; k < ge; k++) {
                Msg m = msgs[k];
                if (leaf && m.operator() != 0) {
                    m = m.withType(m.type(), 0);
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
        return new Merged(first, count, slots, block, net, freed);
    }

    /**
     * Bytes a leaf's records take after the merge (slots and entries, as {@link Node#bytes} counts
     * them; garbage left in the heap not counted): the unchanged slots before {@code m.first}, then the
     * new suffix, whose new entries are still in {@code m.block} (below the old heap start).
     */
    private static long keptBytes(MemorySegment page, Merged m, int slotBase, int heap, int newHeap) {
        long n = NodeLayout.HEADER;
        for (int k = 0; k < m.first; k++) {
            n += SLOT + entryBytes(page, page.get(INT, slotBase + (long) SLOT * k));
        }
        MemorySegment block = MemorySegment.ofArray(m.block);
        for (int k = 0; k < m.count; k++) {
            int e = (int) Node.I32.get(m.slots, SLOT * k);
            n += SLOT + (e >= heap ? entryBytes(page, e) : entryBytes(block, e - newHeap));
        }
        return n;
    }

    private static int entryBytes(MemorySegment seg, long e) {
        return ENTRY_HEADER + NodeLayout.u16(seg, e) + seg.get(INT, e + 4);
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
