package dev.strata.index.internal;

import dev.strata.compute.PageHandle;
import dev.strata.compute.PageStore;
import dev.strata.compute.WriteBatch;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A writer's unit of work: one {@link WriteBatch} plus the exclusive latches of every page it
 * changed or read for change, all held until the batch is sealed ({@link #commitAsync}) or aborted
 * ({@link #close}), so optimistic readers that saw any of those pages fail validation. Decoded nodes
 * are cached per page. Writes are diffs against the current page bytes. The pages of disjoint subtrees
 * may be latched, decoded and changed from two threads (a parallel flush), and dirty nodes written from
 * two ({@link #writeNodes}); a page only ever from one, and committing and aborting from the writer's
 * thread after the helper stopped.
 */
final class Txn implements AutoCloseable {
    private static final int BLOCK = 64;

    private final PageStore store;
    private final WriteBatch batch;
    // concurrent: a root flush may merge into disjoint subtrees on two threads (BeTree.mergeDownInParallel)
    private final Map<Long, PageHandle> latched = new ConcurrentHashMap<>();
    final Map<Long, Node> nodes = new ConcurrentHashMap<>();
    /** Node pages this transaction allocated and has not written yet: all zeros. */
    private final java.util.Set<Long> untouched = ConcurrentHashMap.newKeySet();
    /**
     * The arrays the decoded nodes were copied into: their entries' values are ranges of them, so they go back
     * to {@link Images} only once the transaction dropped its nodes.
     */
    private final List<byte[]> decodedImages = java.util.Collections.synchronizedList(new ArrayList<>());
    private boolean sealed;

    Txn(PageStore store) {
        this.store = store;
        this.batch = store.newBatch();
    }

    PageStore store() {
        return store;
    }

    PageHandle x(long pageId) {
        PageHandle h = latched.get(pageId);
        if (h == null) {
            h = store.fixExclusive(pageId);
            latched.put(pageId, h);
        }
        return h;
    }

    /** True when this transaction holds {@code pageId} latched (read for change or changed). */
    boolean holds(long pageId) {
        return latched.containsKey(pageId);
    }

    int latchedPages() {
        return latched.size();
    }

    Node load(long pageId) {
        Node n = nodes.get(pageId);
        if (n == null) {
            MemorySegment page = x(pageId).segment();
            byte[] img = pageArray((int) page.byteSize());
            n = Node.decode(pageId, page, img);
            decodedImages.add(img);
            nodes.put(pageId, n);
        }
        return n;
    }

    /** True when this transaction holds {@code pageId} decoded (then it must change only through its {@link Node}). */
    boolean decoded(long pageId) {
        return nodes.containsKey(pageId);
    }

    Node allocate(int pageBytes, boolean leaf) {
        long id = batch.allocate(pageBytes);
        x(id);
        Node n = new Node(id, pageBytes, leaf);
        n.dirty = true;
        nodes.put(id, n);
        untouched.add(id);
        return n;
    }

    long allocatePage(int pageBytes) {
        long id = batch.allocate(pageBytes);
        x(id);
        return id;
    }

    /**
     * Frees a page with this transaction's batch ({@link WriteBatch#free}): a decoded node of it is
     * dropped unwritten; its latch, if held, is kept until the batch is sealed.
     */
    void free(long pageId) {
        nodes.remove(pageId);
        untouched.remove(pageId);
        batch.free(pageId);
    }

    void write(long pageId, long offset, byte[] bytes) {
        touch(pageId);
        batch.write(x(pageId), offset, bytes);
    }

    void write(long pageId, long offset, MemorySegment bytes) {
        touch(pageId);
        batch.write(x(pageId), offset, bytes);
    }

    private void touch(long pageId) {
        if (!untouched.isEmpty()) {
            untouched.remove(pageId);
        }
    }

    /**
     * Fewest dirty nodes worth handing half of to the flush helper: below this, waking it costs more
     * than the encoding it would take over.
     */
    private static final int PARALLEL_NODES = 8;

    /**
     * Writes every dirty decoded node: as the diff between its image and the page, or compacted in place.
     * Each node's page is written by one thread; with enough of them the writer and the flush helper share
     * the nodes ({@link FlushHelper#forEach}: encoding a node and diffing or compacting it into its page
     * was a third of a writer's time, and the helper is idle while the writer does it).
     */
    void writeNodes() {
        List<Node> dirty = new ArrayList<>();
        for (Node n : nodes.values()) {
            if (n.dirty) {
                dirty.add(n);
            }
        }
        if (dirty.size() >= PARALLEL_NODES) {
            FlushHelper.forEach(dirty.size(), k -> writeNode(dirty.get(k)));
        } else {
            for (Node n : dirty) {
                writeNode(n);
            }
        }
    }

    private void writeNode(Node n) {
        if (untouched.remove(n.pageId)) {
            byte[] image = n.encodeInto(pageArray(n.pageBytes));
            writeFresh(n.pageId, image);
            Images.give(image);
            n.dirty = false;
            return;
        }
        MemorySegment page = x(n.pageId).segment();
        byte[] scratch = Images.take(page.byteSize());
        byte[] image = n.encode(page, scratch);
        if (image != null) {
            writeImage(n.pageId, image);
            Images.give(image); // the batch copied what it logged
        } else {
            writeCompacted(n);
        }
        if (image != scratch) {
            Images.give(scratch);
        }
        n.dirty = false;
    }

    /**
     * Compacts a decoded node in its page: the items still in the page slide to the page end, keeping
     * their heap order, each run of adjacent items as one logged move ({@link WriteBatch#move}); new
     * items go below them; then the front (header, slots, child starts) is written as a diff. Sliding
     * highest first moves every item up or not at all, so a move never overwrites an item still to be
     * moved, and the front is written last, when nothing it may cover is still needed. What is logged is
     * a few bytes per run plus the new items and the front, instead of most of the page.
     */
    void writeCompacted(Node n) {
        touch(n.pageId);
        PageHandle h = x(n.pageId);
        int items = n.items();
        CompactScratch scratch = COMPACT_SCRATCH.get().atLeast(items);
        int[] at = scratch.at;
        int[] origins = scratch.origins;
        long[] kept = scratch.kept; // origin << 32 | item, for the items still in the page
        int nk = 0;
        int total = 0;
        for (int i = 0; i < items; i++) {
            int o = n.itemOrigin(i);
            origins[i] = o;
            total += n.itemSize(i);
            if (o >= 0) {
                kept[nk++] = (long) o << 32 | i;
            }
        }
        if (n.pageBytes - total < n.slotsEnd()) {
            throw new IllegalStateException("node overflows its page: " + (n.slotsEnd() + total) + " > " + n.pageBytes);
        }
        Arrays.sort(kept, 0, nk);
        int cursor = n.pageBytes;
        int runFrom = 0; // pending move: [runFrom, runFrom + runLen) to runTo
        int runTo = 0;
        int runLen = 0;
        for (int k = nk - 1; k >= 0; k--) {
            int i = (int) kept[k];
            int from = (int) (kept[k] >>> 32);
            int size = n.itemSize(i);
            cursor -= size;
            at[i] = cursor;
            if (runLen > 0 && from + size == runFrom && cursor + size == runTo) {
                runFrom = from; // adjacent below the run, same shift: the run grows down
                runTo = cursor;
                runLen += size;
            } else {
                if (runLen > 0) {
                    batch.move(h, runFrom, runTo, runLen);
                }
                runFrom = from;
                runTo = cursor;
                runLen = size;
            }
        }
        if (runLen > 0) {
            batch.move(h, runFrom, runTo, runLen);
        }
        int keptEnd = cursor;
        for (int i = 0; i < items; i++) {
            if (origins[i] < 0) {
                cursor -= n.itemSize(i);
                at[i] = cursor;
            }
        }
        if (cursor < keptEnd) {
            byte[] fresh = pageArray(n.pageBytes);
            for (int i = 0; i < items; i++) {
                if (origins[i] < 0) {
                    n.writeItem(fresh, at[i] - cursor, i);
                }
            }
            batch.write(h, cursor, MemorySegment.ofArray(fresh).asSlice(0, keptEnd - cursor));
            Images.give(fresh); // the batch copied what it logs
        }
        byte[] front = pageArray(n.pageBytes);
        writeImage(n.pageId, front, n.frontInto(front, at, cursor));
        Images.give(front);
    }

    /** A kept page-sized array (any content), or a new one. */
    private static byte[] pageArray(int pageBytes) {
        byte[] a = Images.take(pageBytes);
        return a != null ? a : new byte[pageBytes];
    }

    /**
     * A thread's index arrays for {@link #writeCompacted} (the writer's, or a flush helper's when nodes are written
     * in parallel), dead once it returns; only their first {@code items} elements are used.
     */
    private static final class CompactScratch {
        int[] at = new int[0];
        int[] origins = new int[0];
        long[] kept = new long[0];

        CompactScratch atLeast(int items) {
            if (at.length < items) {
                int n = Math.max(items, 2 * at.length);
                at = new int[n];
                origins = new int[n];
                kept = new long[n];
            }
            return this;
        }
    }

    private static final ThreadLocal<CompactScratch> COMPACT_SCRATCH = ThreadLocal.withInitial(CompactScratch::new);

    /**
     * Writes a compacted image to a page this transaction allocated and has not written: the page is
     * all zeros, and so is the image between its slots and its heap, so the front and the heap are the
     * difference (a diff against the page would compare the whole page in 64-byte steps).
     */
    private void writeFresh(long pageId, byte[] image) {
        PageHandle h = x(pageId);
        MemorySegment img = MemorySegment.ofArray(image);
        int nc = img.get(NodeLayout.INT, NodeLayout.OFF_NCHILDREN);
        int ne = img.get(NodeLayout.INT, NodeLayout.OFF_NENTRIES);
        int heap = img.get(NodeLayout.INT, NodeLayout.OFF_HEAP);
        long front = NodeLayout.slotBase(nc) + (long) NodeLayout.SLOT * ne;
        batch.write(h, 0, img.asSlice(0, front));
        if (heap < image.length) {
            batch.write(h, heap, img.asSlice(heap, image.length - heap));
        }
    }

    /** Writes the runs of {@code image} that differ from the page's current bytes. */
    void writeImage(long pageId, byte[] image) {
        writeImage(pageId, image, image.length);
    }

    /** Writes the runs of {@code image}'s first {@code length} bytes that differ from the page's. */
    private void writeImage(long pageId, byte[] image, int length) {
        touch(pageId);
        PageHandle h = x(pageId);
        MemorySegment cur = h.segment();
        MemorySegment img = MemorySegment.ofArray(image);
        long n = length;
        long pos = 0;
        while (pos < n) {
            long m = MemorySegment.mismatch(cur, pos, n, img, pos, n);
            if (m < 0) {
                break;
            }
            long start = (pos + m) & ~7L; // mismatch is relative to pos
            long end = Math.min(n, start + BLOCK);
            while (end < n) {
                long next = Math.min(n, end + BLOCK);
                if (MemorySegment.mismatch(cur, end, next, img, end, next) < 0) {
                    break;
                }
                end = next;
            }
            batch.write(h, start, img.asSlice(start, end - start));
            pos = end;
        }
    }

    /** Seals the batch (logged in order; durable when the future completes) and releases the latches. */
    CompletableFuture<Long> commitAsync() {
        CompletableFuture<Long> f = batch.commitAsync();
        sealed = true;
        release();
        return f;
    }

    private void release() {
        List<PageHandle> hs = new ArrayList<>(latched.values());
        latched.clear();
        nodes.clear();
        untouched.clear();
        // nothing refers to the decoded entries any more (the batch copied every byte it logged)
        synchronized (decodedImages) {
            for (byte[] img : decodedImages) {
                Images.give(img);
            }
            decodedImages.clear();
        }
        for (int i = hs.size() - 1; i >= 0; i--) {
            PageHandle h = hs.get(i);
            if (h.segment().get(NodeLayout.INT, NodeLayout.OFF_KIND) == NodeLayout.LEAF) {
                // a leaf merged into is next merged into after all its siblings were: let it go first
                // (out of memory this keeps the internal nodes, whose buffers take the messages, resident)
                h.closeCold();
            } else {
                h.close();
            }
        }
    }

    /** Aborts unless committed: before-images are restored under the held latches, then released. */
    @Override
    public void close() {
        if (!sealed) {
            sealed = true;
            try {
                batch.close();
            } finally {
                release();
            }
        }
    }

    /**
     * Page-sized arrays for decoding and encoding nodes, kept for the next transaction instead of left to the
     * collector. Node copies were the largest allocation of an out-of-memory load (JFR, 6M random inserts: 3.4 GB
     * for decoding and 0.85 GB of page copies for encoding, of 14.5 GB), each array zeroed by the JVM first, and
     * a transaction's arrays were alive whenever a young collection ran, so they were copied or promoted. Kept,
     * they stay in the old generation. 20M inserts: 1,372 / 1,308 young collections before, 955 / 916 after; all
     * pauses 8.2 / 9.7 s before, 7.4 / 8.4 s after. At most {@link #BYTES_PER_SIZE} of each size are kept: 12 MiB
     * once batch payloads left the heap (a 4 MiB bound still left 3.4 GB of decode arrays allocated per 20M inserts
     * and 23 full collections; with 12 MiB, one full collection, and 288.5k / 311.4k inserts/s against 262.5k /
     * 293.2k in two interleaved pairs).
     */
    static final class Images {
        static final long BYTES_PER_SIZE = 12L << 20;
        private static final ConcurrentHashMap<Integer, java.util.concurrent.ArrayBlockingQueue<byte[]>> FREE =
                new ConcurrentHashMap<>();

        private Images() {}

        /** A kept array of {@code size} bytes with any content, or null. */
        static byte[] take(long size) {
            java.util.concurrent.ArrayBlockingQueue<byte[]> q = FREE.get((int) size);
            return q == null ? null : q.poll();
        }

        /** Keeps {@code img} for reuse; its content may be anything. No one may refer to it afterwards. */
        static void give(byte[] img) {
            if (img == null) {
                return;
            }
            FREE.computeIfAbsent(img.length,
                    n -> new java.util.concurrent.ArrayBlockingQueue<>((int) Math.max(2, BYTES_PER_SIZE / n)))
                    .offer(img);
        }
    }
}
