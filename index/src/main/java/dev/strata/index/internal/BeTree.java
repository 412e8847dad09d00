package dev.strata.index.internal;

import static dev.strata.index.internal.NodeLayout.DELETE;
import static dev.strata.index.internal.NodeLayout.ENTRY_HEADER;
import static dev.strata.index.internal.NodeLayout.INTERNAL;
import static dev.strata.index.internal.NodeLayout.KIND_MASK;
import static dev.strata.index.internal.NodeLayout.LEAF;
import static dev.strata.index.internal.NodeLayout.MAGIC;
import static dev.strata.index.internal.NodeLayout.OVERFLOW;
import static dev.strata.index.internal.NodeLayout.PUT;
import static dev.strata.index.internal.NodeLayout.UPSERT;

import dev.strata.compute.PageStore;
import dev.strata.core.CorruptionException;
import dev.strata.index.IndexEntry;
import dev.strata.index.IndexShape;
import dev.strata.index.IndexStats;
import dev.strata.index.UpsertOperator;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The B-epsilon tree. Messages enter the root's buffer; a full buffer flushes the messages of its
 * fullest children one level down (into the child's buffer, or applied to a leaf's records), down to
 * 5/8 of the node, splitting children that overflow; the root page never moves (a root split copies
 * it into a new child). A merge that fits a node's free gap is made in place ({@link NodeEdit}: new
 * entries appended, the slot array's changed suffix rewritten, nothing decoded); only a node that
 * overflows, or a leaf that empties, is decoded into a {@link Node}, flushed or split and re-encoded
 * (keeping unchanged entries at their offsets unless the page is too fragmented, then compacted).
 *
 * <p>Concurrency: readers never latch. They descend with optimistic versions, validating each parent
 * before using the child pointer read from it, and re-validate the whole root-to-leaf path before
 * acting on what they copied; any failed validation restarts the read. Writers are serialized per
 * tree (every message enters through the root buffer, so the root is a serialization point anyway)
 * and latch exclusively only the pages they change, holding those latches until their
 * {@link dev.strata.compute.WriteBatch} is sealed: a reader can never combine a parent's old buffer
 * with a child's new one. Commits are group-committed by the store after the writer lock is released.
 */
public final class BeTree {
    private static final int MAX_DEPTH = 32;
    private static final RuntimeException RESTART = new RuntimeException("restart", null, false, false) {};

    private final PageStore store;
    private final long root;
    private final int leafBytes;
    private final int internalBytes;
    private final int maxFanout;
    private final int leafParentFanout;
    private final int outOfMemoryFanout;
    private final int inlineMax;
    private final UpsertOperator[] operators = new UpsertOperator[256];
    private final ReentrantLock writer = new ReentrantLock();
    private volatile String droppedAs; // the index's name once dropped: every later call fails
    // counts for stats(); merges run on the writer and the flush helper
    private final LongAdder batches = new LongAdder();
    private final LongAdder messages = new LongAdder();
    private final LongAdder directBatches = new LongAdder();
    private final LongAdder leafMerges = new LongAdder();
    private final LongAdder leafMergeMessages = new LongAdder();
    private final LongAdder bufferMerges = new LongAdder();
    private final LongAdder bufferMergeMessages = new LongAdder();
    private final LongAdder inPlaceMerges = new LongAdder();
    private final LongAdder leafSplits = new LongAdder();
    private final LongAdder leafJoins = new LongAdder();
    private final LongAdder internalSplits = new LongAdder();

    public BeTree(PageStore store, long root, int leafBytes, int internalBytes, List<UpsertOperator> ops) {
        this.store = store;
        this.root = root;
        this.leafBytes = leafBytes;
        this.internalBytes = internalBytes;
        // Up to 256 children for a 64 KiB root: 1M keys of ~110 bytes fit three levels (root, one
        // level of internal nodes, leaves) instead of four, one buffer and pivot search fewer per read.
        this.maxFanout = Math.max(16, internalBytes / 256);
        // 64 for every other internal node and for a root over leaves: a node's buffer per child
        // sets how many messages each flush to a child carries, and out of memory every flush is a
        // page read and a later write-back of that child (2M-key insert runs with the pool at 1/8 of
        // the data: 256 everywhere read 2.7x the bytes and ran ~3x slower; 256 above the parents of
        // leaves still read and wrote 1.35x the bytes).
        this.leafParentFanout = Math.max(16, internalBytes / 1024);
        // Once the store outgrows its pool, nodes below the root split at 8 children (64 KiB nodes):
        // a flush into a child that is not in the pool reads and writes the whole child, and the
        // messages it carries are about the parent's buffer over the parent's fanout, so a smaller
        // fanout moves more messages per child read (20M random inserts with the pool at 1/8 of the
        // data: 64 -> 12 children took 86.8k to 108k inserts/s and 68 to 44 GB written; once the tree's
        // CPU per message had fallen, 12 -> 8 gave 250.6k against 228.4k inserts/s, medians of four
        // interleaved pairs, 22% fewer bytes read, 86 instead of 73 messages per leaf merge; 6: 232k).
        // In memory the extra level costs point reads 12-17% (random writes gain ~10%), so a tree
        // that fits keeps 64.
        this.outOfMemoryFanout = Math.max(8, internalBytes / 8192);
        this.inlineMax = leafBytes / 8;
        for (UpsertOperator op : ops) {
            if (op.id() < 1 || op.id() > 255) {
                throw new IllegalArgumentException("operator id out of 1..255: " + op.id());
            }
            operators[op.id()] = op;
        }
    }

    public long rootPage() {
        return root;
    }

    public PageStore store() {
        return store;
    }

    /** Largest value kept inline in a node; larger ones go to overflow pages. */
    public int inlineMax() {
        return inlineMax;
    }

    // =================================================================== reads

    /** The value of {@code key}, or {@code null}. Never latches; restarts on concurrent change. */
    public byte[] get(byte[] key) {
        checkLive();
        MemorySegment mem = store.pageMemory();
        int kh = NodeLayout.head(key);
        long[] ids = new long[8];
        long[] vs = new long[8];
        long[] budget = new long[1];
        while (true) {
            int depth = 0;
            List<Msg> ups = null;
            byte[] base = null;
            boolean overflow = false;
            budget[0] = READ_BUDGET;
            try {
                long id = root;
                long v = store.optimisticVersion(id);
                while (true) {
                    if (depth == ids.length) {
                        ids = java.util.Arrays.copyOf(ids, 2 * depth);
                        vs = java.util.Arrays.copyOf(vs, 2 * depth);
                    }
                    ids[depth] = id;
                    vs[depth] = v;
                    depth++;
                    long b = PageStore.pageOffset(id);
                    int nc = header(mem, b);
                    int ne = NodeLayout.getInt(mem, b, NodeLayout.OFF_NENTRIES);
                    if (nc == 0) {
                        int i = NodeLayout.lowerBound(mem, b, 0, 0, ne, key, kh);
                        if (i < ne && NodeLayout.entryHead(mem, b, 0, i) == kh) {
                            long e = b + NodeLayout.entryOffset(mem, b, 0, i);
                            int klen = NodeLayout.u16(mem, e);
                            if (NodeLayout.compare(mem, e + ENTRY_HEADER, klen, key) == 0) {
                                base = copyValue(mem, e, klen, budget);
                                overflow = (NodeLayout.u8(mem, e + 2) & OVERFLOW) != 0;
                            }
                        }
                        break;
                    }
                    // the child first: its start and the next child's bound the buffered messages
                    // that can hold the key; their heads (in the slots the search just read) come
                    // before any entry, so that a miss, the common case, never touches one
                    int ci = NodeLayout.findChild(mem, b, nc, key, kh);
                    int lo = NodeLayout.childStart(mem, b, nc, ci);
                    int hi = ci + 1 < nc ? NodeLayout.childStart(mem, b, nc, ci + 1) : ne;
                    if (lo > hi || hi > ne) {
                        throw RESTART;
                    }
                    int i = NodeLayout.lowerBound(mem, b, nc, lo, hi, key, kh);
                    int j = i;
                    while (j < hi && NodeLayout.entryHead(mem, b, nc, j) == kh) {
                        long e = b + NodeLayout.entryOffset(mem, b, nc, j);
                        if (NodeLayout.compare(mem, e + ENTRY_HEADER, NodeLayout.u16(mem, e), key) != 0) {
                            break;
                        }
                        j++;
                    }
                    boolean found = false;
                    for (int k = j - 1; k >= i; k--) {
                        long e = b + NodeLayout.entryOffset(mem, b, nc, k);
                        int klen = NodeLayout.u16(mem, e);
                        int type = NodeLayout.u8(mem, e + 2);
                        int kind = type & KIND_MASK;
                        if (kind == UPSERT) {
                            if (ups == null) {
                                ups = new ArrayList<>(4);
                            }
                            ups.add(new Msg(key, type, NodeLayout.u8(mem, e + 3), copyValue(mem, e, klen, budget)));
                        } else {
                            found = true;
                            if (kind == PUT) {
                                base = copyValue(mem, e, klen, budget);
                                overflow = (type & OVERFLOW) != 0;
                            }
                            break;
                        }
                    }
                    if (found) {
                        break;
                    }
                    long child = NodeLayout.child(mem, b, ci);
                    if (!store.validate(id, v) || depth == MAX_DEPTH) {
                        throw RESTART;
                    }
                    v = store.optimisticVersion(child);
                    id = child;
                }
                if (!validateAll(ids, vs, depth)) {
                    continue;
                }
            } catch (RuntimeException e) {
                if (e == RESTART || !validateAll(ids, vs, depth)) {
                    continue;
                }
                throw e;
            }
            if (overflow || ups != null) {
                List<Msg> record = new ArrayList<>(1);
                if (overflow) {
                    record.add(new Msg(key, PUT | OVERFLOW, 0, base));
                }
                if (!resolveValidated(ups == null ? List.of(record) : List.of(record, ups), ids, vs, depth)) {
                    continue;
                }
                if (overflow) {
                    base = record.get(0).value();
                }
            }
            for (int k = ups == null ? -1 : ups.size() - 1; k >= 0; k--) {
                Msg u = ups.get(k);
                base = operator(u.operator()).apply(base, u.value());
            }
            return base;
        }
    }

    /** Checks the node header; returns its number of children (0 for a leaf), or restarts. */
    private static int header(MemorySegment mem, long b) {
        int magic = NodeLayout.getInt(mem, b, NodeLayout.OFF_MAGIC);
        int kind = NodeLayout.getInt(mem, b, NodeLayout.OFF_KIND);
        int nc = NodeLayout.getInt(mem, b, NodeLayout.OFF_NCHILDREN);
        int ne = NodeLayout.getInt(mem, b, NodeLayout.OFF_NENTRIES);
        int size = NodeLayout.getInt(mem, b, NodeLayout.OFF_PAGEBYTES);
        if (magic != MAGIC || size <= 0 || size > (1 << 18) || ne < 0 || ne > size / 8 || nc < 0 || nc > size / 12
                || (kind == LEAF) != (nc == 0) || (kind != LEAF && kind != INTERNAL)) {
            throw RESTART; // a page changing or evicted under us (or corrupt: the validation decides)
        }
        return nc;
    }

    /**
     * Bytes an optimistic read attempt may copy before it must have validated: a legitimate read
     * copies at most the pages on its path (4 levels of at most 256 KiB); more means it is reading a
     * page that changed under it, whose lengths are garbage, so it restarts instead of allocating.
     */
    private static final long READ_BUDGET = 16L << 20;

    private static byte[] copyValue(MemorySegment mem, long e, int klen, long[] budget) {
        int vlen = mem.get(NodeLayout.INT, e + 4);
        if (vlen < 0 || vlen > (1 << 18) || (budget[0] -= vlen + klen) < 0) {
            throw RESTART;
        }
        byte[] v = new byte[vlen];
        MemorySegment.copy(mem, ValueLayout.JAVA_BYTE, e + ENTRY_HEADER + klen, v, 0, vlen);
        return v;
    }

    private boolean validateAll(long[] ids, long[] vs, int depth) {
        for (int i = 0; i < depth; i++) {
            if (!store.validate(ids[i], vs[i])) {
                return false;
            }
        }
        return true;
    }

    /**
     * One step of a scan: the live records with keys in {@code [from, to)} (to {@code null}: unbounded)
     * within the range of the leaf holding {@code from}, merged with the messages buffered above
     * that leaf. {@code next[0]} receives the key to continue from, or {@code null} when done.
     */
    public List<IndexEntry> scanChunk(byte[] from, byte[] to, byte[][] next) {
        checkLive();
        MemorySegment mem = store.pageMemory();
        long[] ids = new long[MAX_DEPTH];
        long[] vs = new long[MAX_DEPTH];
        while (true) {
            int depth = 0;
            List<List<Msg>> levels = new ArrayList<>();
            byte[] high = null;
            long[] budget = {READ_BUDGET};
            try {
                long id = root;
                long v = store.optimisticVersion(id);
                while (true) {
                    ids[depth] = id;
                    vs[depth] = v;
                    depth++;
                    long b = PageStore.pageOffset(id);
                    int nc = header(mem, b);
                    int ne = NodeLayout.getInt(mem, b, NodeLayout.OFF_NENTRIES);
                    int ci = 0;
                    if (nc > 0) {
                        ci = NodeLayout.findChild(mem, b, nc, from);
                        if (ci < nc - 1) {
                            long p = b + NodeLayout.pivotOffset(mem, b, nc, ci);
                            int plen = NodeLayout.u16(mem, p);
                            if (plen > 4096) {
                                throw RESTART;
                            }
                            byte[] pivot = Node.bytes(mem, p + 2, plen);
                            if (high == null || Keys.compare(pivot, high) < 0) {
                                high = pivot;
                            }
                        }
                    }
                    byte[] bound = to == null ? high : high == null ? to : Keys.compare(high, to) < 0 ? high : to;
                    List<Msg> found = new ArrayList<>();
                    for (int i = NodeLayout.lowerBound(mem, b, nc, ne, from, false); i < ne; i++) {
                        long e = b + NodeLayout.entryOffset(mem, b, nc, i);
                        int klen = NodeLayout.u16(mem, e);
                        if (bound != null && NodeLayout.compare(mem, e + ENTRY_HEADER, klen, bound) >= 0) {
                            break;
                        }
                        Msg m = readEntryChecked(mem, e, budget);
                        found.add(m);
                    }
                    levels.add(found);
                    if (nc == 0) {
                        break;
                    }
                    long child = NodeLayout.child(mem, b, ci);
                    if (!store.validate(id, v) || depth == MAX_DEPTH) {
                        throw RESTART;
                    }
                    v = store.optimisticVersion(child);
                    id = child;
                }
                if (!validateAll(ids, vs, depth)) {
                    continue;
                }
            } catch (RuntimeException e) {
                if (e == RESTART || !validateAll(ids, vs, depth)) {
                    continue;
                }
                throw e;
            }
            if (high != null) {
                // upper levels were read with wider bounds than the leaf's range: trim them to it
                for (List<Msg> level : levels) {
                    int cut = level.size();
                    while (cut > 0 && Keys.compare(level.get(cut - 1).key(), high) >= 0) {
                        cut--;
                    }
                    level.subList(cut, level.size()).clear();
                }
            }
            if (!resolveValidated(levels, ids, vs, depth)) {
                continue;
            }
            List<Msg> recs = levels.get(levels.size() - 1);
            for (int l = levels.size() - 2; l >= 0; l--) {
                recs = applyToRecords(recs, levels.get(l), null);
            }
            next[0] = high != null && (to == null || Keys.compare(high, to) < 0) ? high : null;
            List<IndexEntry> out = new ArrayList<>(recs.size());
            for (Msg m : recs) {
                out.add(new IndexEntry(m.key(), m.value()));
            }
            return out;
        }
    }

    private static Msg readEntryChecked(MemorySegment mem, long e, long[] budget) {
        int klen = NodeLayout.u16(mem, e);
        int vlen = mem.get(NodeLayout.INT, e + 4);
        if (vlen < 0 || vlen > (1 << 18) || (budget[0] -= vlen + klen) < 0) {
            throw RESTART;
        }
        return Node.readEntry(mem, e, klen, vlen);
    }

    /**
     * Replaces the overflow pointers in {@code lists} (entries read along the validated path {@code ids},
     * {@code vs}) by their values; false when the path changed meanwhile (the read must restart). Overflow
     * pages never change, but a writer frees a chain (and its pages may then be reused) with the change
     * of the node holding its pointer: so the chains are read after the path validated and kept only if it
     * validates again; a read that fails in between is a restart if the path changed, else an error.
     */
    private boolean resolveValidated(List<List<Msg>> lists, long[] ids, long[] vs, int depth) {
        boolean chained = false;
        try {
            for (List<Msg> l : lists) {
                chained |= resolve(l);
            }
        } catch (RuntimeException e) {
            if (!validateAll(ids, vs, depth)) {
                return false;
            }
            throw e;
        }
        return !chained || validateAll(ids, vs, depth);
    }

    /**
     * True when {@code msgs} (sorted by key) are puts of keys in strictly ascending order (no operator, one
     * message per key): merged where no record has their keys, each becomes a record as it is.
     */
    private static boolean plainPuts(List<Msg> msgs) {
        byte[] prev = null;
        for (int i = 0; i < msgs.size(); i++) {
            Msg m = msgs.get(i);
            if (m.kind() != PUT || m.operator() != 0 || prev != null && Keys.compare(prev, m.key()) >= 0) {
                return false;
            }
            prev = m.key();
        }
        return true;
    }

    /** Replaces overflow pointers by the values, in place; returns whether there was any. */
    private boolean resolve(List<Msg> msgs) {
        boolean any = false;
        for (int i = 0; i < msgs.size(); i++) {
            Msg m = msgs.get(i);
            if (m.overflow()) {
                msgs.set(i, new Msg(m.key(), m.kind(), m.operator(), Overflow.read(store, m.value())));
                any = true;
            }
        }
        return any;
    }

    UpsertOperator operator(int id) {
        UpsertOperator op = operators[id];
        if (op == null) {
            throw new IllegalStateException("upsert operator " + id + " is not registered with this index");
        }
        return op;
    }

    // =================================================================== writes

    /**
     * Applies {@code msgs} (in the given order; values inline, not yet overflowed) as one write batch.
     *
     * @return completes with the batch's LSN once durable
     */
    public CompletableFuture<Long> write(List<Msg> msgs) {
        // one pass over the messages before the sort: operators registered, values to overflow, bytes in a node
        long footprint = 0;
        boolean large = false;
        for (int i = 0; i < msgs.size(); i++) {
            Msg m = msgs.get(i);
            if (m.kind() == UPSERT) {
                operator(m.operator());
            }
            large |= m.value() != null && m.value().length > inlineMax;
            footprint += m.footprint();
        }
        List<Msg> sorted = sortByKey(msgs);
        batches.increment();
        messages.add(msgs.size());
        writer.lock();
        try (Txn txn = new Txn(store)) {
            checkLive();
            if (large) {
                for (int i = 0; i < sorted.size(); i++) {
                    Msg m = sorted.get(i);
                    if (m.value() != null && m.value().length > inlineMax) {
                        sorted.set(i, new Msg(m.key(), m.type() | OVERFLOW, m.operator(),
                                Overflow.write(txn, m.value())));
                    }
                }
                footprint = footprint(sorted); // the overflowed values are pointers now
            }
            if (footprint >= internalBytes / 2 && pathClear(txn, sorted)) {
                directBatches.increment();
                Node r = txn.load(root);
                applyDirect(txn, r, sorted);
                if (needsSplit(txn, r)) {
                    splitRoot(txn, r);
                }
                txn.writeNodes();
            } else if (!NodeEdit.tryMerge(txn, root, sorted)) {
                Node r = txn.load(root);
                if (r.leaf) {
                    noteGrowth(r, sorted);
                    r.entries = applyToRecords(r.entries, sorted, txn);
                } else {
                    r.entries = mergeBuffer(r.entries, sorted, txn);
                    settle(txn, r, true);
                }
                r.dirty = true;
                if (needsSplit(txn, r)) {
                    splitRoot(txn, r);
                }
                txn.writeNodes();
            }
            return txn.commitAsync();
        } finally {
            writer.unlock();
        }
    }

    /**
     * Records where merging {@code msgs} (sorted by key) into leaf {@code n} adds to it ({@link Node#grew}): at its
     * end if they all sort after its records ({@link Node#AT_END}), at its start if all before, between two
     * neighbouring records if all fall there ({@link Node#grewInGap}), provided they carry at least an eighth of
     * its page; else elsewhere. (A stray message past the last record, as random writes bring now and then, does
     * not make a leaf one that is being loaded in order; nor does a first batch into an empty leaf, which is sorted
     * whatever order its keys came in.)
     */
    private static void noteGrowth(Node n, List<Msg> msgs) {
        List<Msg> recs = n.entries;
        if (msgs.isEmpty() || recs.isEmpty() || footprint(msgs) < n.pageBytes / 8) {
            n.grew(Node.ELSEWHERE);
            return;
        }
        int gap = gapOf(recs, msgs);
        if (gap == recs.size()) {
            n.grew(Node.AT_END);
        } else if (gap == 0) {
            n.grew(Node.AT_START);
        } else if (gap > 0) {
            n.grewInGap(recs.get(gap).key());
        } else {
            n.grew(Node.ELSEWHERE);
        }
    }

    /**
     * The index of the first of {@code recs} (sorted, distinct keys) after {@code msgs} (sorted by key, not
     * empty) when every message's key falls strictly between {@code recs}' neighbours there (or past either end);
     * else -1.
     */
    private static int gapOf(List<Msg> recs, List<Msg> msgs) {
        int at = firstAtOrAbove(recs, msgs.get(0).key());
        return at < recs.size() && Keys.compare(recs.get(at).key(), msgs.get(msgs.size() - 1).key()) <= 0 ? -1 : at;
    }

    private static long footprint(List<Msg> msgs) {
        long n = 0;
        for (Msg m : msgs) {
            n += m.footprint();
        }
        return n;
    }

    /**
     * Only for batches of at least half an internal node (smaller ones are what the buffers are for:
     * they stay in the root's buffer instead of touching, and out of memory faulting, a leaf).
     * True when the sorted batch falls into one child's range at every internal level and no message
     * buffered on that root-to-leaf path has a key in the batch's range (a sequential load's batches):
     * then no older message of these keys sits above the leaf, and applying the batch straight to the
     * leaf ({@link #applyDirect}) is what flushing it down through the buffers would give, without
     * merging it into and flushing it out of each buffer on the way. Reads the path under the writer's
     * exclusive latches; changes nothing.
     */
    private boolean pathClear(Txn txn, List<Msg> sorted) {
        byte[] lo = sorted.get(0).key();
        byte[] hi = sorted.get(sorted.size() - 1).key();
        int loHead = NodeLayout.head(lo);
        long id = root;
        for (int depth = 0; depth < MAX_DEPTH; depth++) {
            MemorySegment page = txn.x(id).segment();
            int nc = page.get(NodeLayout.INT, NodeLayout.OFF_NCHILDREN);
            if (nc == 0) {
                return depth > 0;
            }
            int ci = NodeLayout.findChild(page, 0, nc, lo, loHead);
            if (ci < nc - 1 && NodeLayout.findChild(page, 0, nc, hi) != ci) {
                return false;
            }
            int ne = page.get(NodeLayout.INT, NodeLayout.OFF_NENTRIES);
            int end = ci + 1 < nc ? NodeLayout.childStart(page, 0, nc, ci + 1) : ne;
            int i = NodeLayout.lowerBound(page, 0, nc, NodeLayout.childStart(page, 0, nc, ci), end, lo, loHead);
            if (i < end) {
                long e = NodeLayout.entryOffset(page, 0, nc, i);
                if (NodeLayout.compare(page, e + ENTRY_HEADER, NodeLayout.u16(page, e), hi) <= 0) {
                    return false;
                }
            }
            id = NodeLayout.child(page, 0, ci);
        }
        return false;
    }

    /** Applies a batch that {@link #pathClear} admitted to its leaf below {@code node}; splits on the way back up. */
    private void applyDirect(Txn txn, Node node, List<Msg> sorted) {
        int ci = node.childFor(sorted.get(0).key());
        long id = node.children.get(ci);
        int before = node.children.size();
        if (txn.x(id).segment().get(NodeLayout.INT, NodeLayout.OFF_NCHILDREN) == 0) {
            linkDown(txn, node, ci, mergeDown(txn, id, sorted));
        } else {
            Node child = txn.load(id);
            applyDirect(txn, child, sorted);
            splitIfNeeded(txn, node, ci, child);
        }
        if (node.children.size() != before) {
            node.dirty = true;
        }
    }

    private static final java.util.Comparator<Msg> BY_KEY = (a, b) -> Keys.compare(a.key(), b.key());

    /**
     * The messages sorted by key, equal keys in their given order: a primitive sort of (head, position)
     * pairs, then a stable sort of the few runs whose heads (first 4 key bytes) tie.
     */
    static List<Msg> sortByKey(List<Msg> msgs) {
        int n = msgs.size();
        long[] packed = new long[n];
        boolean ascending = true; // heads strictly ascending: already sorted (a sequential load's batches)
        long prev = Long.MIN_VALUE;
        for (int i = 0; i < n; i++) {
            // flipping the sign bit makes the signed sort order the heads' unsigned order
            long p = (long) (NodeLayout.head(msgs.get(i).key()) ^ Integer.MIN_VALUE) << 32 | i;
            ascending &= i == 0 || p >> 32 > prev >> 32;
            packed[i] = p;
            prev = p;
        }
        if (ascending) {
            return java.util.Arrays.asList(msgs.toArray(new Msg[0]));
        }
        java.util.Arrays.sort(packed);
        Msg[] out = new Msg[n];
        for (int i = 0; i < n; i++) {
            out[i] = msgs.get((int) packed[i]);
        }
        for (int s = 0; s < n; ) {
            int e = s + 1;
            while (e < n && packed[e] >>> 32 == packed[s] >>> 32) {
                e++;
            }
            if (e - s > 1) {
                java.util.Arrays.sort(out, s, e, BY_KEY); // stable
            }
            s = e;
        }
        return java.util.Arrays.asList(out);
    }

    /** Splits child {@code ci} of {@code node} if it overflows, linking the new parts in after it. */
    private void splitIfNeeded(Txn txn, Node node, int ci, Node child) {
        if (needsSplit(txn, child)) {
            // the node grows at an end only if the child there grew at that end and splits
            byte g = child.growth();
            boolean atEdge = g == Node.AT_END ? ci == node.children.size() - 1 : g == Node.AT_START && ci == 0;
            node.grew(atEdge ? g : Node.ELSEWHERE);
            List<Node> parts = new ArrayList<>();
            List<byte[]> seps = new ArrayList<>();
            split(txn, child, parts, seps);
            for (int i = 1; i < parts.size(); i++) {
                node.children.add(ci + i, parts.get(i).pageId);
                node.pivots.add(ci + i - 1, seps.get(i - 1));
            }
        }
    }

    private boolean needsSplit(Txn txn, Node n) {
        if (!n.fits()) {
            return true;
        }
        if (n.leaf || n.children.size() <= fanoutLimit()) {
            return false;
        }
        return n.pageId != root || n.children.size() > maxFanout || isLeaf(txn, n.children.get(0));
    }

    /** The most children of an internal node below the root. */
    private int fanoutLimit() {
        return store.poolOutgrown() ? outOfMemoryFanout : leafParentFanout;
    }

    /**
     * Whether a page is a leaf. A page's kind never changes, so an optimistic peek will do, unless
     * this writer latched the page itself (then an optimistic read would wait for it forever).
     */
    private boolean isLeaf(Txn txn, long pageId) {
        Node decoded = txn.nodes.get(pageId);
        if (decoded != null) {
            return decoded.leaf;
        }
        int kind = txn.holds(pageId)
                ? txn.x(pageId).segment().get(NodeLayout.INT, NodeLayout.OFF_KIND)
                : store.readOptimistic(pageId, seg -> seg.get(NodeLayout.INT, NodeLayout.OFF_KIND));
        return kind == NodeLayout.LEAF;
    }

    /**
     * A node whose buffer overflows its page flushes down to this fraction of the page (in 1/8ths),
     * so that the messages arriving next fit in place ({@link NodeEdit}) until the next flush.
     */
    private static final int FLUSH_TO_EIGHTHS = 5;

    /**
     * Flushes an internal node's buffer down when it overflows the node, to {@link #FLUSH_TO_EIGHTHS}
     * of the page (or until only its pivots are left).
     */
    private void settle(Txn txn, Node node) {
        settle(txn, node, false);
    }

    /** As {@link #settle(Txn, Node)}; {@code parallel}: the children's merges may run on two threads. */
    private void settle(Txn txn, Node node, boolean parallel) {
        int total = node.bytes();
        if (total <= node.pageBytes) {
            return;
        }
        int target = node.pageBytes / 8 * FLUSH_TO_EIGHTHS;
        while (total > target && !node.entries.isEmpty()) {
            flushSome(txn, node, total - target, parallel);
            total = node.bytes();
        }
    }

    /**
     * Moves the buffered messages of the children with the most buffered bytes (fullest first) down
     * into those children until at least {@code excess} bytes left the buffer.
     */
    private void flushSome(Txn txn, Node node, int excess, boolean parallel) {
        int nc = node.children.size();
        int[] bytes = new int[nc];
        int[] start = new int[nc];
        int[] end = new int[nc];
        int c = 0;
        List<Msg> entries = node.entries;
        for (int i = 0; i < entries.size(); i++) {
            Msg m = entries.get(i);
            while (c < nc - 1 && Keys.compare(m.key(), node.pivots.get(c)) >= 0) {
                c++;
            }
            if (bytes[c] == 0) {
                start[c] = i;
            }
            bytes[c] += m.footprint();
            end[c] = i + 1;
        }
        // fullest first, by a primitive sort of (bytes, child) pairs (the least child first on ties)
        long[] order = new long[nc];
        for (int i = 0; i < nc; i++) {
            order[i] = (long) ~bytes[i] << 32 | i;
        }
        java.util.Arrays.sort(order);
        boolean[] chosen = new boolean[nc];
        int freed = 0;
        for (int k = 0; k < nc && freed < excess && bytes[(int) order[k]] > 0; k++) {
            int ci = (int) order[k];
            chosen[ci] = true;
            freed += bytes[ci];
        }
        List<Msg> remaining = new ArrayList<>(entries.size());
        for (int i = 0; i < nc; i++) {
            if (!chosen[i] && bytes[i] > 0) {
                remaining.addAll(entries.subList(start[i], end[i]));
            }
        }
        node.entries = remaining;
        node.dirty = true;
        // out of memory most chosen children are not in the pool: start reading them all now, so that
        // the misses below overlap instead of each waiting for its own read; in the order they are
        // merged into, so the first one needed is the first one read
        for (int ci = nc - 1; ci >= 0; ci--) {
            if (chosen[ci] && !txn.holds(node.children.get(ci))) {
                store.prefetch(node.children.get(ci));
            }
        }
        // the children's subtrees are disjoint: their merges (and the flushes below them) may run
        // on two threads; linking the results into this node (splits, dropped leaves) stays here
        Node[] merged = new Node[nc];
        int count = 0;
        for (boolean isChosen : chosen) {
            count += isChosen ? 1 : 0;
        }
        if (parallel && count >= 2 && FlushHelper.available()) {
            mergeDownInParallel(txn, node, chosen, start, end, entries, merged);
        } else {
            for (int ci = nc - 1; ci >= 0; ci--) {
                if (chosen[ci]) {
                    merged[ci] = mergeDown(txn, node.children.get(ci),
                            new ArrayList<>(entries.subList(start[ci], end[ci])));
                }
            }
        }
        // right to left: splits insert children after ci and removals touch ci and ci - 1 only
        for (int ci = nc - 1; ci >= 0; ci--) {
            if (chosen[ci]) {
                linkDown(txn, node, ci, merged[ci]);
            }
        }
    }

    /**
     * Merges the chosen children on this thread and a helper ({@link FlushHelper#forEach}), right to left
     * (the order they were prefetched in); returns once both are done.
     */
    private void mergeDownInParallel(Txn txn, Node node, boolean[] chosen, int[] start, int[] end,
            List<Msg> entries, Node[] merged) {
        int nc = chosen.length;
        int[] queue = new int[nc];
        int queued = 0;
        for (int ci = nc - 1; ci >= 0; ci--) {
            if (chosen[ci]) {
                queue[queued++] = ci;
            }
        }
        long[] ids = new long[nc];
        List<List<Msg>> moved = new ArrayList<>(nc);
        for (int ci = 0; ci < nc; ci++) {
            ids[ci] = node.children.get(ci);
            moved.add(chosen[ci] ? new ArrayList<>(entries.subList(start[ci], end[ci])) : null);
        }
        FlushHelper.forEach(queued, k -> {
            int ci = queue[k];
            merged[ci] = mergeDown(txn, ids[ci], moved.get(ci));
        });
    }

    /**
     * Applies {@code moved} (messages of one child's range) to child page {@code id}; returns the
     * decoded child, or {@code null} if the messages were merged in place. Touches only that subtree.
     */
    private Node mergeDown(Txn txn, long id, List<Msg> moved) {
        boolean inPlace = !txn.decoded(id) && NodeEdit.tryMerge(txn, id, moved);
        Node decoded = txn.nodes.get(id); // a page allocated in this batch is all zeros until written
        boolean leaf = decoded != null ? decoded.leaf
                : txn.x(id).segment().get(NodeLayout.INT, NodeLayout.OFF_KIND) == LEAF;
        (leaf ? leafMerges : bufferMerges).increment();
        (leaf ? leafMergeMessages : bufferMergeMessages).add(moved.size());
        if (inPlace) {
            inPlaceMerges.increment();
            return null;
        }
        Node child = txn.load(id);
        child.dirty = true;
        if (child.leaf) {
            noteGrowth(child, moved);
            child.entries = applyToRecords(child.entries, moved, txn);
        } else {
            child.entries = mergeBuffer(child.entries, moved, txn);
            settle(txn, child);
        }
        return child;
    }

    /**
     * After {@link #mergeDown} of child {@code ci}: drops it if it is a leaf left empty (its page freed),
     * joins it with a neighbour if it is a leaf under a quarter full, else splits it if it overflows.
     */
    private void linkDown(Txn txn, Node node, int ci, Node child) {
        if (child == null) {
            return;
        }
        if (child.leaf && child.entries.isEmpty() && node.children.size() > 1) {
            // an empty leaf leaves the tree: its range joins a neighbour's, its page is freed
            node.children.remove(ci);
            node.pivots.remove(ci == 0 ? 0 : ci - 1);
            txn.free(child.pageId);
            return;
        }
        if (child.leaf && node.children.size() > 1 && child.bytes() < child.pageBytes / 4
                && joinLeaf(txn, node, ci, child)) {
            return;
        }
        splitIfNeeded(txn, node, ci, child);
    }

    /**
     * Joins a leaf that fell below a quarter of its page with its right neighbour (the last child: its
     * left one) when both fit in {@link #JOIN_TO_EIGHTHS} of a page: the right leaf's records move into
     * the left one, the pivot between them goes and the right leaf's page is freed. Deletes thus keep
     * leaves at least a quarter full, as B-trees do (LMDB rebalances below a quarter too). Touches
     * children {@code ci} and {@code ci + 1}, or {@code ci - 1} and {@code ci}, only.
     */
    private boolean joinLeaf(Txn txn, Node node, int ci, Node child) {
        int si = ci + 1 < node.children.size() ? ci + 1 : ci - 1;
        Node sibling = txn.load(node.children.get(si));
        if (!sibling.leaf || child.bytes() + sibling.entryBytes() > child.pageBytes / 8 * JOIN_TO_EIGHTHS) {
            return false;
        }
        Node left = si < ci ? sibling : child;
        Node right = si < ci ? child : sibling;
        List<Msg> joined = new ArrayList<>(left.entries.size() + right.entries.size());
        joined.addAll(left.entries);
        joined.addAll(right.entries);
        left.entries = joined;
        left.dirty = true;
        int li = Math.min(ci, si);
        node.children.remove(li + 1);
        node.pivots.remove(li);
        node.dirty = true;
        txn.free(right.pageId);
        leafJoins.increment();
        return true;
    }

    /** Two leaves join only if the result fills at most this much of a page (in 1/8ths), leaving room to grow. */
    private static final int JOIN_TO_EIGHTHS = 6;

    /** Splits {@code n} into parts that each fit; the first part keeps {@code n}'s page. */
    private void split(Txn txn, Node n, List<Node> parts, List<byte[]> seps) {
        if (n.leaf) {
            leafSplits.increment();
            splitLeaf(txn, n, parts, seps);
            return;
        }
        internalSplits.increment();
        if (n.children.size() < 2 || (n.children.size() == 2 && !n.fits())) {
            throw new IllegalStateException("internal node " + n.pageId + " cannot be split to fit");
        }
        // halves, unless the node only grew at one end: then the part the load has passed keeps all the
        // children it may have (and the other at least two), as leaves keep those parts full
        int size = n.children.size();
        int m = size / 2;
        if (size > fanoutLimit() && n.growth() == Node.AT_END) {
            m = Math.min(fanoutLimit(), size - 2);
        } else if (size > fanoutLimit() && n.growth() == Node.AT_START) {
            m = Math.max(2, size - fanoutLimit());
        }
        byte[] sep = n.pivots.get(m - 1);
        Node right = txn.allocate(n.pageBytes, false);
        right.growthOf(n);
        right.children.addAll(n.children.subList(m, n.children.size()));
        right.pivots.addAll(n.pivots.subList(m, n.pivots.size()));
        n.children.subList(m, n.children.size()).clear();
        n.pivots.subList(m - 1, n.pivots.size()).clear();
        int cut = 0;
        while (cut < n.entries.size() && Keys.compare(n.entries.get(cut).key(), sep) < 0) {
            cut++;
        }
        right.entries = new ArrayList<>(n.entries.subList(cut, n.entries.size()));
        n.entries = new ArrayList<>(n.entries.subList(0, cut));
        n.dirty = true;
        List<Node> lp = new ArrayList<>();
        List<byte[]> ls = new ArrayList<>();
        if (needsSplit(txn, n)) {
            split(txn, n, lp, ls);
        } else {
            lp.add(n);
        }
        List<Node> rp = new ArrayList<>();
        List<byte[]> rs = new ArrayList<>();
        if (needsSplit(txn, right)) {
            split(txn, right, rp, rs);
        } else {
            rp.add(right);
        }
        parts.addAll(lp);
        seps.addAll(ls);
        seps.add(sep);
        parts.addAll(rp);
        seps.addAll(rs);
    }

    private void splitLeaf(Txn txn, Node n, List<Node> parts, List<byte[]> seps) {
        List<Msg> all = n.entries;
        int total = n.entryBytes();
        int capacity = n.pageBytes - NodeLayout.HEADER;
        int target = capacity * 9 / 10;
        int k = Math.max(2, (total + target - 1) / target);
        int per = (total + k - 1) / k;
        // a leaf loaded in ascending order fills its first parts to the page and the last takes the rest,
        // one loaded in descending order its last parts and the first the rest, one loaded in ascending order
        // between two of its records the parts up to the records after the load, which start a part of their
        // own; any other is divided evenly, each part about 90% full at most
        boolean pack = n.growth() == Node.AT_END || n.growth() == Node.AT_START || n.growth() == Node.IN_GAP;
        boolean backwards = n.growth() == Node.AT_START;
        int gapEnd = n.growth() == Node.IN_GAP ? firstAtOrAbove(all, n.gapEnd()) : -1;
        // where the parts start, found from the first record up (from the last down when loaded backwards);
        // each part is then copied from the records in one piece
        int size = all.size();
        int[] cuts = new int[Math.max(8, k)];
        int nc = 0;
        int curBytes = 0;
        int inPart = 0;
        for (int i = 0; i < size; i++) {
            int at = backwards ? size - 1 - i : i;
            int f = all.get(at).footprint();
            if (inPart > 0 && (curBytes + f > capacity || at == gapEnd || (!pack && curBytes >= per && nc < k - 1))) {
                if (nc == cuts.length) {
                    cuts = java.util.Arrays.copyOf(cuts, 2 * nc);
                }
                cuts[nc++] = backwards ? at + 1 : at;
                curBytes = 0;
                inPart = 0;
            }
            inPart++;
            curBytes += f;
        }
        if (backwards) {
            for (int a = 0, b = nc - 1; a < b; a++, b--) {
                int t = cuts[a];
                cuts[a] = cuts[b];
                cuts[b] = t;
            }
        }
        List<List<Msg>> groups = new ArrayList<>(nc + 1);
        for (int g = 0, from = 0; g <= nc; g++) {
            int to = g < nc ? cuts[g] : size;
            groups.add(new ArrayList<>(all.subList(from, to)));
            from = to;
        }
        n.entries = groups.get(0);
        n.dirty = true;
        parts.add(n);
        for (int g = 1; g < groups.size(); g++) {
            Node p = txn.allocate(leafBytes, true);
            p.entries = groups.get(g);
            parts.add(p);
            seps.add(groups.get(g).get(0).key());
        }
    }

    /** The index of the first of {@code entries} (sorted by key) whose key is {@code key} or above. */
    private static int firstAtOrAbove(List<Msg> entries, byte[] key) {
        int lo = 0;
        int hi = entries.size();
        if (hi > 0 && Keys.compare(entries.get(hi - 1).key(), key) < 0) {
            return hi; // past the end: a sequential load's batch
        }
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (Keys.compare(entries.get(mid).key(), key) < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /** The root page never moves: its content goes to new children and it becomes their parent. */
    private void splitRoot(Txn txn, Node r) {
        while (needsSplit(txn, r)) {
            Node copy = txn.allocate(r.leaf ? leafBytes : internalBytes, r.leaf);
            copy.growthOf(r);
            copy.children.addAll(r.children);
            copy.pivots.addAll(r.pivots);
            copy.entries = r.entries;
            List<Node> parts = new ArrayList<>();
            List<byte[]> seps = new ArrayList<>();
            if (needsSplit(txn, copy)) {
                if (!copy.leaf) {
                    settle(txn, copy);
                }
                split(txn, copy, parts, seps);
            } else {
                parts.add(copy);
            }
            r.leaf = false;
            r.children.clear();
            r.pivots.clear();
            r.entries = new ArrayList<>();
            for (Node p : parts) {
                r.children.add(p.pageId);
            }
            r.pivots.addAll(seps);
            r.dirty = true;
        }
    }

    /**
     * Adds newer messages to a buffer: both sorted by key, equal keys oldest first. A PUT or DELETE
     * makes every older message of its key in this buffer obsolete, so those are dropped (and their
     * overflow chains freed with {@code txn}). The stretches of one list whose keys the other lacks are
     * found by galloping (a flush brings a buffer of ~500 entries ~60 messages, a root takes a batch of
     * thousands) and copied whole: a merge step per entry, with its key comparisons, was a fifth of an
     * out-of-memory load's writer time. A buffer's own entries are already reduced (no message of a key
     * before its last PUT or DELETE); the newer ones (a caller's batch) are reduced here.
     */
    static List<Msg> mergeBuffer(List<Msg> older, List<Msg> newer, Txn txn) {
        Msg[] o = older.toArray(NO_MSGS);
        Msg[] n = newer.toArray(NO_MSGS);
        List<Msg> out = new ArrayList<>(o.length + n.length);
        int i = 0;
        int j = 0;
        while (i < o.length && j < n.length) {
            int c = Keys.compare(o[i].key(), n[j].key());
            if (c < 0) {
                int k = gallop(o, i + 1, n[j].key());
                addRange(out, o, i, k);
                i = k;
            } else if (c > 0) {
                int k = gallop(n, j + 1, o[i].key());
                appendReduced(out, n, j, k, txn);
                j = k;
            } else {
                byte[] key = o[i].key();
                int runStart = out.size();
                while (i < o.length && Keys.equal(o[i].key(), key)) {
                    out.add(o[i++]);
                }
                while (j < n.length && Keys.equal(n[j].key(), key)) {
                    out.add(n[j++]);
                }
                dropObsolete(out, runStart, txn);
            }
        }
        addRange(out, o, i, o.length);
        appendReduced(out, n, j, n.length, txn);
        return out;
    }

    private static final Msg[] NO_MSGS = new Msg[0];

    /**
     * First index in {@code [from, a.length)} whose key is {@code >= key} ({@code a.length} if none):
     * probes 1, 2, 4, ... entries ahead, then binary-searches the last step.
     */
    private static int gallop(Msg[] a, int from, byte[] key) {
        int lo = from;
        int step = 1;
        int hi = from;
        while (hi < a.length && Keys.compare(a[hi].key(), key) < 0) {
            lo = hi + 1;
            hi = from + step;
            step <<= 1;
        }
        hi = Math.min(hi, a.length);
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (Keys.compare(a[mid].key(), key) < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /** Adds {@code a[from, to)}, sorted, dropping in each run of one key what its last PUT or DELETE makes obsolete. */
    private static void appendReduced(List<Msg> out, Msg[] a, int from, int to, Txn txn) {
        int copied = from; // a[copied, k) still to add
        for (int k = from + 1; k < to; k++) {
            if (Keys.equal(a[k].key(), a[k - 1].key())) {
                int runEnd = k + 1;
                while (runEnd < to && Keys.equal(a[runEnd].key(), a[k].key())) {
                    runEnd++;
                }
                addRange(out, a, copied, k - 1);
                int runStart = out.size();
                addRange(out, a, k - 1, runEnd);
                dropObsolete(out, runStart, txn);
                copied = runEnd;
                k = runEnd;
            }
        }
        addRange(out, a, copied, to);
    }

    /** Adds {@code a[from, to)} one by one (into room reserved up front; {@code addAll} would copy them twice). */
    private static void addRange(List<Msg> out, Msg[] a, int from, int to) {
        for (int k = from; k < to; k++) {
            out.add(a[k]);
        }
    }

    /** In the run of one key at {@code out[runStart, end)}, drops (and frees) what precedes its last PUT or DELETE. */
    private static void dropObsolete(List<Msg> out, int runStart, Txn txn) {
        int lastBase = -1;
        for (int k = out.size() - 1; k >= runStart; k--) {
            if (out.get(k).kind() != UPSERT) {
                lastBase = k;
                break;
            }
        }
        if (lastBase > runStart) {
            List<Msg> dropped = out.subList(runStart, lastBase);
            for (Msg m : dropped) {
                if (m.overflow()) {
                    Overflow.free(txn, m.value());
                }
            }
            dropped.clear();
        }
    }

    /**
     * Applies messages (sorted, equal keys oldest first) to sorted records. With a {@code txn}
     * (writer), values may be overflow pointers, read through the writer's latches, and large upsert
     * results are written to overflow pages; without one (reader), every value is inline.
     */
    List<Msg> applyToRecords(List<Msg> recs, List<Msg> msgs, Txn txn) {
        List<Msg> out = new ArrayList<>(recs.size() + msgs.size());
        int gap = msgs.isEmpty() ? -1 : gapOf(recs, msgs);
        if (gap >= 0 && plainPuts(msgs)) { // a sequential load's batch: the records around it, the messages in between
            out.addAll(gap == recs.size() ? recs : recs.subList(0, gap));
            out.addAll(msgs);
            if (gap < recs.size()) {
                out.addAll(recs.subList(gap, recs.size()));
            }
            return out;
        }
        int i = 0;
        int j = 0;
        while (j < msgs.size()) {
            byte[] key = msgs.get(j).key();
            while (i < recs.size() && Keys.compare(recs.get(i).key(), key) < 0) {
                out.add(recs.get(i++));
            }
            Msg cur = null;
            if (i < recs.size() && Keys.equal(recs.get(i).key(), key)) {
                cur = recs.get(i++);
            }
            while (j < msgs.size() && Keys.equal(msgs.get(j).key(), key)) {
                Msg m = msgs.get(j++);
                switch (m.kind()) {
                    case PUT -> {
                        freeValue(cur, txn);
                        cur = m;
                    }
                    case DELETE -> {
                        freeValue(cur, txn);
                        cur = null;
                    }
                    case UPSERT -> {
                        byte[] old = cur == null ? null : valueOf(cur, txn);
                        byte[] nv = operator(m.operator()).apply(old, valueOf(m, txn));
                        freeValue(cur, txn);
                        freeValue(m, txn);
                        if (nv == null) {
                            cur = null;
                        } else if (txn != null && nv.length > inlineMax) {
                            cur = new Msg(key, PUT | OVERFLOW, 0, Overflow.write(txn, nv));
                        } else {
                            cur = new Msg(key, PUT, 0, nv);
                        }
                    }
                    default -> throw new CorruptionException("unknown message type " + m.type());
                }
            }
            if (cur != null) {
                out.add(cur.kind() == PUT && cur.operator() == 0 ? cur
                        : cur.withType(PUT | (cur.type() & OVERFLOW), 0));
            }
        }
        while (i < recs.size()) {
            out.add(recs.get(i++));
        }
        return out;
    }

    /** A writer's record or message being replaced: frees its overflow chain, if it has one. */
    private static void freeValue(Msg m, Txn txn) {
        if (txn != null && m != null && m.overflow()) {
            Overflow.free(txn, m.value());
        }
    }

    private static byte[] valueOf(Msg m, Txn txn) {
        return m.overflow() ? Overflow.read(txn, m.value()) : m.value();
    }

    /** Counts of this tree's writes since it was opened (see {@link IndexStats}). */
    public IndexStats stats() {
        return new IndexStats(batches.sum(), messages.sum(), directBatches.sum(), leafMerges.sum(),
                leafMergeMessages.sum(), bufferMerges.sum(), bufferMergeMessages.sum(), inPlaceMerges.sum(),
                leafSplits.sum(), internalSplits.sum(), leafJoins.sum());
    }

    // =================================================================== drop

    /**
     * Frees every page of the tree (nodes, overflow chains) in one batch, together with what
     * {@code alsoInBatch} adds to it (the catalog's change), commits it, and makes every later call on
     * this tree fail, naming the index as {@code name}. Waits for the writer in progress; reads in
     * progress may fail. Reads each node once, latching one page at a time (the tree may be far larger
     * than the pool).
     */
    public void drop(java.util.function.Consumer<dev.strata.compute.WriteBatch> alsoInBatch, String name) {
        writer.lock();
        try (dev.strata.compute.WriteBatch batch = store.newBatch()) {
            checkLive();
            List<Long> pages = new ArrayList<>();
            java.util.ArrayDeque<Long> todo = new java.util.ArrayDeque<>(List.of(root));
            while (!todo.isEmpty()) {
                long id = todo.pop();
                pages.add(id);
                Node n;
                try (var h = store.fixShared(id)) {
                    n = Node.decode(id, h.segment());
                }
                todo.addAll(n.children);
                for (Msg m : n.entries) {
                    if (m.overflow()) {
                        chainPages(m.value(), pages);
                    }
                }
            }
            for (long id : pages) {
                batch.free(id);
            }
            alsoInBatch.accept(batch);
            batch.commit();
            droppedAs = name;
        } finally {
            writer.unlock();
        }
    }

    /** Adds the pages of the overflow chain {@code pointer} refers to. */
    private void chainPages(byte[] pointer, List<Long> out) {
        java.nio.ByteBuffer p = java.nio.ByteBuffer.wrap(pointer).order(java.nio.ByteOrder.nativeOrder());
        long id = p.getLong(0);
        int chunks = Overflow.chunks(p.getInt(8));
        for (int i = 0; i < chunks; i++) {
            out.add(id);
            if (i + 1 < chunks) {
                try (var h = store.fixShared(id)) {
                    id = h.segment().get(NodeLayout.LONG, 0);
                }
            }
        }
    }

    private void checkLive() {
        String name = droppedAs;
        if (name != null) {
            throw new IllegalStateException("index '" + name + "' was dropped");
        }
    }

    // =================================================================== checks

    /**
     * Walks the whole tree under the writer lock and checks its invariants: node magic and kind,
     * keys sorted within every node and inside the parent's pivot range, all leaves at one depth.
     *
     * @return the number of leaf records (not counting buffered messages)
     */
    public long checkInvariants() {
        writer.lock();
        try {
            long[] leafDepth = {-1};
            return check(root, null, null, 0, leafDepth);
        } finally {
            writer.unlock();
        }
    }

    private long check(long id, byte[] low, byte[] high, int depth, long[] leafDepth) {
        Node n;
        try (var h = store.fixShared(id)) {
            n = Node.decode(id, h.segment());
            if (!n.leaf) {
                int nc = n.children.size();
                for (int c = 0, i = 0; c < nc; c++) {
                    while (c > 0 && i < n.entries.size() && Keys.compare(n.entries.get(i).key(), n.pivots.get(c - 1)) < 0) {
                        i++;
                    }
                    if (NodeLayout.childStart(h.segment(), 0, nc, c) != i) {
                        throw new IllegalStateException("node " + id + " child " + c + " starts at entry "
                                + NodeLayout.childStart(h.segment(), 0, nc, c) + ", not " + i);
                    }
                }
            }
        }
        byte[] prev = null;
        for (Msg m : n.entries) {
            if (prev != null && Keys.compare(prev, m.key()) > 0) {
                throw new IllegalStateException("node " + id + " entries out of order");
            }
            if (n.leaf && prev != null && Keys.compare(prev, m.key()) == 0) {
                throw new IllegalStateException("leaf " + id + " holds a key twice");
            }
            if ((low != null && Keys.compare(m.key(), low) < 0) || (high != null && Keys.compare(m.key(), high) >= 0)) {
                throw new IllegalStateException("node " + id + " holds a key outside its range");
            }
            if (n.leaf && m.kind() != PUT) {
                throw new IllegalStateException("leaf " + id + " holds a message of type " + m.type());
            }
            prev = m.key();
        }
        if (n.leaf) {
            if (leafDepth[0] < 0) {
                leafDepth[0] = depth;
            } else if (leafDepth[0] != depth) {
                throw new IllegalStateException("leaves at depths " + leafDepth[0] + " and " + depth);
            }
            return n.entries.size();
        }
        if (n.children.size() < 1 || n.pivots.size() != n.children.size() - 1 || n.children.size() > maxFanout) {
            throw new IllegalStateException("internal node " + id + " has " + n.children.size() + " children");
        }
        long count = 0;
        for (int i = 0; i < n.children.size(); i++) {
            byte[] lo = i == 0 ? low : n.pivots.get(i - 1);
            byte[] hi = i == n.pivots.size() ? high : n.pivots.get(i);
            if (lo != null && hi != null && Keys.compare(lo, hi) >= 0) {
                throw new IllegalStateException("node " + id + " pivots out of order");
            }
            count += check(n.children.get(i), lo, hi, depth + 1, leafDepth);
        }
        return count;
    }

    /** The most children of any internal node other than the root (0 if there is none). */
    public int maxChildrenBelowRoot() {
        writer.lock();
        try {
            return maxChildren(root, true);
        } finally {
            writer.unlock();
        }
    }

    private int maxChildren(long id, boolean isRoot) {
        Node n;
        try (var h = store.fixShared(id)) {
            n = Node.decode(id, h.segment());
        }
        if (n.leaf) {
            return 0;
        }
        int max = isRoot ? 0 : n.children.size();
        for (long c : n.children) {
            max = Math.max(max, maxChildren(c, false));
        }
        return max;
    }

    /** Page counts and leaf fill of the whole tree, walked under the writer lock. */
    public IndexShape shape() {
        writer.lock();
        try {
            long[] counts = new long[6]; // internal nodes, leaves, records, buffered, leaf bytes, used
            int h = shape(root, counts);
            return new IndexShape(h, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5]);
        } finally {
            writer.unlock();
        }
    }

    /** Adds the subtree under {@code id} to {@code counts}; returns its height. */
    private int shape(long id, long[] counts) {
        Node n;
        try (var h = store.fixShared(id)) {
            n = Node.decode(id, h.segment());
        }
        if (n.leaf) {
            counts[1]++;
            counts[2] += n.entries.size();
            counts[4] += n.pageBytes;
            counts[5] += n.bytes();
            return 1;
        }
        counts[0]++;
        counts[3] += n.entries.size();
        int height = 0;
        for (long c : n.children) {
            height = shape(c, counts);
        }
        return height + 1;
    }

    /** Height of the tree (1 = the root is a leaf). */
    public int height() {
        int h = 1;
        long id = root;
        while (true) {
            Node n;
            try (var g = store.fixShared(id)) {
                n = Node.decode(id, g.segment());
            }
            if (n.leaf) {
                return h;
            }
            id = n.children.get(0);
            h++;
        }
    }

    /** Formats an empty tree's root: a leaf on a page of {@code internalBytes}. */
    static byte[] emptyRootImage(int internalBytes) {
        return new Node(0, internalBytes, true).encode();
    }
}
