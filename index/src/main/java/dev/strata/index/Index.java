package dev.strata.index;

import dev.strata.compute.PageStore;
import dev.strata.core.StrataException;
import dev.strata.index.internal.BeTree;
import dev.strata.index.internal.Catalog;
import dev.strata.index.internal.Msg;
import dev.strata.index.internal.NodeLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * A named, persistent, ordered map of byte strings over a {@link PageStore}: a B-epsilon tree whose
 * nodes are store pages. Keys (1 byte .. 1 KiB) order by unsigned lexicographic comparison; values
 * of any size (large ones live in overflow pages).
 *
 * <pre>{@code
 * Index idx = Index.open(store, "users");
 * idx.put(key, value);                 // durable on return
 * byte[] v = idx.get(key);
 * idx.upsert(counterKey, UpsertOperator.ADD_LONG, UpsertOperator.longDelta(1));  // applied lazily
 * for (Iterator<IndexEntry> it = idx.scan(from, to); it.hasNext(); ) { ... }
 * Index.drop(store, "users");          // frees all its pages
 * }</pre>
 *
 * <p>Thread-safe. Reads never latch (optimistic lock coupling) and see every applied change, committed
 * or still in flight (read-uncommitted within the process). Writes are durable when the call returns
 * (or, for {@link #applyAsync}, when its future completes); concurrent writers share log flushes.
 * Indexes must not be used after their store is closed.
 */
public final class Index {
    /** The indexes open on one store, one instance per name; kept with the store ({@link PageStore#attachment}). */
    private static final class Registry {
        final Map<String, Index> byName = new HashMap<>();

        static Registry of(PageStore store) {
            return store.attachment(Registry.class, Registry::new);
        }
    }

    private final String name;
    private final BeTree tree;
    private final long chunkBytes;

    private Index(String name, BeTree tree) {
        this.name = name;
        this.tree = tree;
        // larger parts flush more messages per node rewrite; every page a part touches stays pinned
        // until it is durable, so parts stay a small fraction of the pool
        long pool = tree.store().config().poolBytes();
        this.chunkBytes = Math.clamp(pool / 128, 32 * 1024, 1 << 20);
    }

    /** Opens (creating if absent) the index {@code name} of {@code store} with default options. */
    public static Index open(PageStore store, String name) {
        return open(store, name, IndexOptions.defaults());
    }

    /**
     * Opens (creating if absent) the index {@code name}. Node sizes of an existing index are those it
     * was created with. Opening a name twice on one store returns the same instance.
     */
    public static Index open(PageStore store, String name, IndexOptions options) {
        Registry registry = Registry.of(store);
        synchronized (registry) {
            Map<String, Index> byName = registry.byName;
            Index idx = byName.get(name);
            if (idx == null) {
                Catalog.Entry e = Catalog.openOrCreate(store, name, options.leafBytes(), options.internalBytes());
                List<UpsertOperator> ops = new ArrayList<>(List.of(UpsertOperator.ADD_LONG, UpsertOperator.APPEND));
                ops.addAll(options.operators());
                idx = new Index(name, new BeTree(store, e.root(), e.leafBytes(), e.internalBytes(), ops));
                byName.put(name, idx);
            }
            return idx;
        }
    }

    /**
     * Drops the index {@code name} of {@code store}: its catalog entry goes and every page of its tree is
     * freed, in one durable batch (after a crash the index is whole or gone). The pages are reused once a
     * checkpoint has recorded the frees. An {@link Index} open on it fails every later call with
     * {@link IllegalStateException}; calls on it must not run concurrently with the drop. Opening the name
     * again creates a new, empty index.
     *
     * @return whether the index existed
     */
    public static boolean drop(PageStore store, String name) {
        Registry registry = Registry.of(store);
        synchronized (registry) {
            Catalog.Entry e = Catalog.find(store, name);
            if (e == null) {
                return false;
            }
            Map<String, Index> byName = registry.byName;
            Index open = byName.get(name);
            BeTree tree = open != null ? open.tree
                    : new BeTree(store, e.root(), e.leafBytes(), e.internalBytes(), List.of());
            tree.drop(batch -> Catalog.remove(store, batch, name), name);
            byName.remove(name);
            return true;
        }
    }

    public String name() {
        return name;
    }

    /** The value of {@code key}, or {@code null} when absent. */
    public byte[] get(byte[] key) {
        checkKey(key);
        return tree.get(key);
    }

    /** Values of several keys, {@code null} where absent. */
    public List<byte[]> getAll(List<byte[]> keys) {
        List<byte[]> out = new ArrayList<>(keys.size());
        for (byte[] k : keys) {
            out.add(get(k));
        }
        return out;
    }

    public void put(byte[] key, byte[] value) {
        checkKey(key);
        if (value == null) {
            throw new IllegalArgumentException("null value (use delete)");
        }
        await(tree.write(List.of(new Msg(key, NodeLayout.PUT, 0, value))));
    }

    public void delete(byte[] key) {
        checkKey(key);
        await(tree.write(List.of(new Msg(key, NodeLayout.DELETE, 0, null))));
    }

    /** Queues a read-modify-write of {@code key}: {@code operator.apply(old, delta)}, applied lazily. */
    public void upsert(byte[] key, UpsertOperator operator, byte[] delta) {
        checkKey(key);
        await(tree.write(List.of(new Msg(key, NodeLayout.UPSERT, operator.id(), delta.clone()))));
    }

    /** Adds {@code delta} to the 8-byte counter at {@code key} ({@link UpsertOperator#ADD_LONG}). */
    public void addLong(byte[] key, long delta) {
        upsert(key, UpsertOperator.ADD_LONG, UpsertOperator.longDelta(delta));
    }

    /**
     * Applies the batch; durable on return. Atomic when it fits one part (1/128 of the buffer pool,
     * between 32 KiB and 1 MiB of operations); larger batches commit as several atomic parts, in order.
     */
    public void apply(IndexBatch batch) {
        await(applyAsync(batch));
    }

    /**
     * Applies the batch now (visible to readers at once) and returns a future completing when all of
     * it is durable. Batches larger than one part (see {@link #apply}) are committed in several atomic parts.
     */
    public CompletableFuture<Long> applyAsync(IndexBatch batch) {
        // the batch holds the messages themselves: a part is a view of them, read by the tree before it returns
        List<Msg> ops = batch.ops;
        int from = 0;
        long bytes = 0;
        CompletableFuture<Long> last = CompletableFuture.completedFuture(0L);
        for (int i = 0; i < ops.size(); i++) {
            Msg op = ops.get(i);
            checkKey(op.key());
            byte[] value = op.value();
            if (op.kind() != NodeLayout.DELETE && value == null) {
                throw new IllegalArgumentException("null value for a put or upsert");
            }
            bytes += 12 + op.key().length + (value == null ? 0 : Math.min(value.length, tree.inlineMax()));
            if (bytes >= chunkBytes) {
                last = tree.write(ops.subList(from, i + 1));
                from = i + 1;
                bytes = 0;
            }
        }
        if (from < ops.size()) {
            last = tree.write(ops.subList(from, ops.size()));
        }
        return last; // the log is written in order: the last part durable means all are
    }

    /**
     * Entries with {@code from <= key < to} in key order ({@code null} bounds are open). Each step
     * reads one leaf's range consistently; the scan as a whole is not a snapshot.
     */
    public Iterator<IndexEntry> scan(byte[] from, byte[] to) {
        return new Iterator<>() {
            private byte[] next = from == null ? new byte[0] : from;
            private Iterator<IndexEntry> chunk = Collections.emptyIterator();
            private final byte[][] cont = new byte[1][];

            @Override
            public boolean hasNext() {
                while (!chunk.hasNext() && next != null) {
                    chunk = tree.scanChunk(next, to, cont).iterator();
                    next = cont[0];
                }
                return chunk.hasNext();
            }

            @Override
            public IndexEntry next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return chunk.next();
            }
        };
    }

    /** Checks the tree's structural invariants (tests, tools); returns the number of leaf records. */
    public long checkInvariants() {
        return tree.checkInvariants();
    }

    /** The most children of any internal node below the root (tests, tools); 0 while there is none. */
    public int maxChildrenBelowRoot() {
        return tree.maxChildrenBelowRoot();
    }

    /** Counts of this index's writes since it was opened in this process: merges, what they carried, splits. */
    public IndexStats stats() {
        return tree.stats();
    }

    /**
     * Walks the whole tree for its page counts and leaf fill ({@link IndexShape}). Holds the index's
     * writer lock meanwhile and reads every node, so it takes as long as a scan (out of memory,
     * every page not in the pool is read): for tools and tests, not for a hot path.
     */
    public IndexShape shape() {
        return tree.shape();
    }

    /** Height of the tree: 1 while the root is a leaf. */
    public int height() {
        return tree.height();
    }

    private static void checkKey(byte[] key) {
        if (key == null || key.length == 0 || key.length > IndexOptions.MAX_KEY_BYTES) {
            throw new IllegalArgumentException("keys must be 1.." + IndexOptions.MAX_KEY_BYTES + " bytes");
        }
    }

    private static long await(CompletableFuture<Long> f) {
        try {
            return f.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new StrataException("index commit failed: " + e.getCause(), e.getCause());
        }
    }
}
