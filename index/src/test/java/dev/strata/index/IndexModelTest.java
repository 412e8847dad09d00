package dev.strata.index;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.compute.PageStore;
import dev.strata.compute.PageStoreConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Operations checked against a {@link TreeMap} model, from tiny trees to trees many times the pool. */
class IndexModelTest {
    @TempDir
    Path dir;

    static PageStoreConfig config(long pool) {
        return PageStoreConfig.defaults().withPool(pool).withCapacity(8L << 30)
                .withCheckpointInterval(Duration.ZERO).withCheckpointLogBytes(64L << 20);
    }

    static final class Model {
        final TreeMap<byte[], byte[]> map = new TreeMap<>(Arrays::compareUnsigned);
    }

    static byte[] key(Random rnd, int keySpace, boolean longKeys) {
        int k = rnd.nextInt(keySpace);
        if (longKeys && rnd.nextInt(50) == 0) {
            byte[] b = new byte[1 + rnd.nextInt(1024)];
            rnd.nextBytes(b);
            b[0] = (byte) (k >>> 24);
            return b;
        }
        if (k % 8 == 3) {
            // short binary keys of 1..6 bytes, high bits set as often as not (unsigned order, slot heads)
            int x = k * 0x9E3779B1;
            byte[] b = new byte[1 + (k >>> 3) % 6];
            for (int i = 0; i < b.length; i++) {
                b[i] = (byte) (i < 4 ? x >>> (24 - 8 * i) : k >>> (8 * (i - 4)));
            }
            return b;
        }
        return String.format("k%08d", k).getBytes();
    }

    static byte[] value(Random rnd, boolean big) {
        int len = big && rnd.nextInt(40) == 0 ? 3000 + rnd.nextInt(300_000) : rnd.nextInt(120);
        byte[] v = new byte[len];
        rnd.nextBytes(v);
        return v;
    }

    /** Runs {@code ops} random operations (mostly in batches) and checks gets, scans and invariants. */
    static void run(Index idx, Model model, Random rnd, int ops, int keySpace, boolean big) {
        int done = 0;
        while (done < ops) {
            int r = rnd.nextInt(100);
            if (r < 72) {
                IndexBatch b = new IndexBatch();
                int n = 1 + rnd.nextInt(200);
                for (int i = 0; i < n; i++) {
                    addOp(b, model, rnd, keySpace, big);
                }
                idx.apply(b);
                done += n;
            } else if (r < 82) {
                IndexBatch b = new IndexBatch();
                addOp(b, model, rnd, keySpace, big);
                var op = b.ops.get(0);
                switch (op.kind()) {
                    case 1 -> idx.put(op.key(), op.value());
                    case 2 -> idx.delete(op.key());
                    default -> idx.upsert(op.key(), UpsertOperator.ADD_LONG, op.value());
                }
                done++;
            } else if (r < 97) {
                byte[] k = key(rnd, keySpace, big);
                assertArrayEquals(model.map.get(k), idx.get(k), "get " + new String(k));
            } else {
                byte[] a = key(rnd, keySpace, false);
                byte[] z = rnd.nextBoolean() ? null : key(rnd, keySpace, false);
                checkScan(idx, model, a, z, 300);
            }
        }
    }

    static void addOp(IndexBatch b, Model model, Random rnd, int keySpace, boolean big) {
        byte[] k = key(rnd, keySpace, big);
        int r = rnd.nextInt(10);
        if (r < 6) {
            byte[] v = value(rnd, big);
            b.put(k, v);
            model.map.put(k, v);
        } else if (r < 8) {
            b.delete(k);
            model.map.remove(k);
        } else {
            long d = rnd.nextInt(1000) - 300;
            b.upsert(k, UpsertOperator.ADD_LONG, UpsertOperator.longDelta(d));
            model.map.put(k, UpsertOperator.ADD_LONG.apply(model.map.get(k), UpsertOperator.longDelta(d)));
        }
    }

    static void checkScan(Index idx, Model model, byte[] from, byte[] to, int limit) {
        if (to != null && Arrays.compareUnsigned(from, to) > 0) {
            byte[] t = from;
            from = to;
            to = t;
        }
        NavigableMap<byte[], byte[]> expect = to == null ? model.map.tailMap(from, true) : model.map.subMap(from, true, to, false);
        Iterator<IndexEntry> it = idx.scan(from, to);
        int n = 0;
        for (Map.Entry<byte[], byte[]> e : expect.entrySet()) {
            if (n++ == limit) {
                return;
            }
            assertTrue(it.hasNext(), "scan ended early before " + new String(e.getKey()));
            IndexEntry got = it.next();
            assertArrayEquals(e.getKey(), got.key(), "scan key");
            assertArrayEquals(e.getValue(), got.value(), "scan value of " + new String(e.getKey()));
        }
        assertFalse(it.hasNext(), "scan returned more than expected");
    }

    static void checkAll(Index idx, Model model) {
        for (Map.Entry<byte[], byte[]> e : model.map.entrySet()) {
            assertArrayEquals(e.getValue(), idx.get(e.getKey()), "get " + new String(e.getKey()));
        }
        checkScan(idx, model, new byte[] {0}, null, Integer.MAX_VALUE);
        idx.checkInvariants();
    }

    @ParameterizedTest(name = "{0} ops over {1} keys, big values {2}")
    @CsvSource({"300, 20, false", "3000, 200, true", "30000, 5000, true", "40000, 100000, false"})
    void matchesTreeMap(int ops, int keys, boolean big) {
        long seed = System.nanoTime();
        System.out.println("IndexModelTest seed " + seed);
        Random rnd = new Random(seed);
        Model model = new Model();
        try (PageStore store = PageStore.open(dir, config(64L << 20))) {
            Index idx = Index.open(store, "model", IndexOptions.defaults().withNodeBytes(4096, 16384));
            run(idx, model, rnd, ops, keys, big);
            checkAll(idx, model);
        }
        try (PageStore store = PageStore.open(dir, config(64L << 20))) {
            Index idx = Index.open(store, "model");
            checkAll(idx, model);
        }
    }

    /**
     * A batch holds the messages the tree applies; applying it again, or clearing and refilling it, must act as
     * a new batch each time (nothing of one application may stick to the messages).
     */
    @Test
    void aBatchAppliedTwiceOrClearedAndRefilledActsAsANewBatch() {
        try (PageStore store = PageStore.open(dir, config(8L << 20))) {
            Index idx = Index.open(store, "reuse", IndexOptions.defaults().withNodeBytes(4096, 16384));
            IndexBatch b = new IndexBatch();
            for (int i = 0; i < 2000; i++) { // more than one part, enough to split and compact nodes
                b.upsert(String.format("c%06d", i).getBytes(), UpsertOperator.ADD_LONG, UpsertOperator.longDelta(i));
                b.put(String.format("p%06d", i).getBytes(), ("v" + i).repeat(20).getBytes());
            }
            idx.apply(b);
            idx.apply(b);
            for (int i = 0; i < 2000; i += 7) {
                assertArrayEquals(UpsertOperator.longDelta(2L * i), idx.get(String.format("c%06d", i).getBytes()));
                assertArrayEquals(("v" + i).repeat(20).getBytes(), idx.get(String.format("p%06d", i).getBytes()));
            }
            b.clear();
            assertEquals(0, b.size());
            b.delete("p000007".getBytes()).upsert("c000007".getBytes(), UpsertOperator.ADD_LONG,
                    UpsertOperator.longDelta(1));
            idx.apply(b);
            assertNull(idx.get("p000007".getBytes()));
            assertArrayEquals(UpsertOperator.longDelta(15), idx.get("c000007".getBytes()));
            assertArrayEquals(("v8").repeat(20).getBytes(), idx.get("p000008".getBytes()));
        }
    }

    /**
     * Ascending runs of keys in batches of half an internal node or more (the shape of a sequential
     * load, which the writer may apply straight to a leaf when nothing is buffered for the run's range
     * on its path), some over ranges that already hold records or buffered messages, mixed with the
     * random operations of {@link #run}.
     */
    @Test
    void sequentialRunsMixedWithRandomOperationsMatchTheModel() {
        long seed = System.nanoTime();
        System.out.println("IndexModelTest runs seed " + seed);
        Random rnd = new Random(seed);
        Model model = new Model();
        try (PageStore store = PageStore.open(dir, config(64L << 20))) {
            Index idx = Index.open(store, "runs", IndexOptions.defaults().withNodeBytes(4096, 16384));
            int next = 0;
            for (int round = 0; round < 120; round++) {
                int start = rnd.nextInt(4) == 0 ? rnd.nextInt(next + 1) : next; // sometimes over old keys
                int n = 100 + rnd.nextInt(400);
                IndexBatch b = new IndexBatch();
                for (int i = 0; i < n; i++) {
                    byte[] k = String.format("k%08d", start + i).getBytes();
                    byte[] v = new byte[60 + rnd.nextInt(80)];
                    rnd.nextBytes(v);
                    if (rnd.nextInt(30) == 0) {
                        b.delete(k);
                        model.map.remove(k);
                    } else {
                        b.put(k, v);
                        model.map.put(k, v);
                    }
                }
                idx.apply(b);
                next = Math.max(next, start + n);
                if (round % 3 == 0) {
                    run(idx, model, rnd, 200, next + 1000, false);
                }
                if (round % 40 == 39) {
                    checkAll(idx, model);
                }
            }
            checkAll(idx, model);
        }
        try (PageStore store = PageStore.open(dir, config(64L << 20))) {
            checkAll(Index.open(store, "runs"), model);
        }
    }

    @Test
    void treeTenTimesThePoolMatchesTheModel() {
        long seed = System.nanoTime();
        System.out.println("IndexModelTest big seed " + seed);
        Random rnd = new Random(seed);
        Model model = new Model();
        long pool = 4L << 20;
        try (PageStore store = PageStore.open(dir, config(pool))) {
            Index idx = Index.open(store, "big", IndexOptions.defaults().withNodeBytes(4096, 16384));
            byte[] v = new byte[300];
            IndexBatch b = new IndexBatch();
            for (int i = 0; i < 150_000; i++) {
                byte[] k = String.format("k%08d", rnd.nextInt(1_000_000)).getBytes();
                rnd.nextBytes(v);
                b.put(k, v.clone());
                model.map.put(k, v.clone());
                // batches as large as the benchmarks' flush into several nodes of one size per transaction,
                // which is what catches a decoded node's image reused while its entries still refer to it
                if (b.size() == 5000) {
                    idx.apply(b);
                    b.clear();
                }
            }
            idx.apply(b);
            run(idx, model, rnd, 5_000, 1_000_000, false);
            long dataBytes = model.map.size() * 310L;
            assertTrue(dataBytes > 10 * pool, "data " + dataBytes + " vs pool " + pool);
            checkAll(idx, model);
            assertTrue(store.stats().pool().evictions() > 0);
        }
    }

    @Test
    void namedIndexesAreIndependentAndDeletesEmptyLeaves() {
        try (PageStore store = PageStore.open(dir, config(16L << 20))) {
            Index a = Index.open(store, "a", IndexOptions.defaults().withNodeBytes(4096, 16384));
            Index b = Index.open(store, "b");
            for (int i = 0; i < 20_000; i += 500) {
                IndexBatch batch = new IndexBatch();
                for (int j = i; j < i + 500; j++) {
                    batch.put(String.format("%06d", j).getBytes(), new byte[50]);
                }
                a.apply(batch);
            }
            b.put("x".getBytes(), "y".getBytes());
            assertNull(a.get("x".getBytes()));
            assertNull(b.get("000001".getBytes()));
            for (int i = 0; i < 20_000; i += 500) {
                IndexBatch batch = new IndexBatch();
                for (int j = i; j < i + 500; j++) {
                    batch.delete(String.format("%06d", j).getBytes());
                }
                a.apply(batch);
            }
            assertFalse(a.scan(null, null).hasNext());
            a.put("000100".getBytes(), "back".getBytes());
            assertArrayEquals("back".getBytes(), a.get("000100".getBytes()));
            a.checkInvariants();
        }
        try (PageStore store = PageStore.open(dir, config(16L << 20))) {
            assertArrayEquals("y".getBytes(), Index.open(store, "b").get("x".getBytes()));
            assertArrayEquals("back".getBytes(), Index.open(store, "a").get("000100".getBytes()));
        }
    }

    @Test
    void upsertsApplyLazilyInOrder() {
        try (PageStore store = PageStore.open(dir, config(16L << 20))) {
            Index idx = Index.open(store, "c");
            byte[] k = "counter".getBytes();
            for (int i = 0; i < 1000; i++) {
                idx.addLong(k, 2);
            }
            assertEquals(2000, UpsertOperator.longValue(idx.get(k)));
            idx.put(k, UpsertOperator.longDelta(5));
            idx.upsert(k, UpsertOperator.APPEND, new byte[] {1});
            assertEquals(9, idx.get(k).length);
        }
    }
}
