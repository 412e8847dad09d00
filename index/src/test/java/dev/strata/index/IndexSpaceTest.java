package dev.strata.index;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.compute.PageStore;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An index gives its pages back: leaves that empty and the overflow pages of large values that are
 * replaced, deleted or superseded in a buffer are freed with the batch that drops them, and the store
 * hands them out again after a checkpoint, so a workload that keeps replacing and deleting what it
 * wrote stops growing the store.
 */
class IndexSpaceTest {
    @TempDir
    Path dir;

    private static byte[] key(int k) {
        return ByteBuffer.allocate(8).putInt(k * 7919).putInt(k).array();
    }

    /** A value of 3 to 9 KiB: past a 16 KiB leaf's inline limit (2 KiB), on one or two overflow pages. */
    private static byte[] value(SplittableRandom rnd, int round) {
        byte[] v = new byte[3072 + rnd.nextInt(6144)];
        rnd.nextBytes(v);
        v[0] = (byte) round;
        return v;
    }

    @Test
    void replacingAndDeletingLargeValuesAndWholeLeavesReusesTheirPages() {
        int keys = 600;
        SplittableRandom rnd = new SplittableRandom(5);
        TreeMap<Integer, byte[]> model = new TreeMap<>();
        List<Long> spaceAfterRound = new ArrayList<>();
        try (PageStore store = PageStore.open(dir, IndexModelTest.config(8L << 20))) {
            Index idx = Index.open(store, "space");
            for (int round = 0; round < 6; round++) {
                // write every key, in small batches: the values pass through the buffers on their way down
                for (int k = 0; k < keys; k += 20) {
                    IndexBatch b = new IndexBatch();
                    for (int j = k; j < k + 20; j++) {
                        byte[] v = value(rnd, round);
                        b.put(key(j), v);
                        model.put(j, v);
                    }
                    idx.apply(b);
                }
                // replace a third twice in one batch (the first replacement is superseded at once)
                IndexBatch b = new IndexBatch();
                for (int k = 0; k < keys; k += 3) {
                    b.put(key(k), value(rnd, round));
                    byte[] v = value(rnd, round);
                    b.put(key(k), v);
                    model.put(k, v);
                }
                idx.apply(b);
                check(idx, model);
                store.checkpoint(); // the frees so far are recorded: their pages may be handed out again
                spaceAfterRound.add(store.stats().pageSpaceBytes());
                // delete everything but the last round: whole leaves empty and leave the tree
                if (round < 5) {
                    for (int k = 0; k < keys; k += 50) {
                        IndexBatch d = new IndexBatch();
                        for (int j = k; j < k + 50; j++) {
                            d.delete(key(j));
                            model.remove(j);
                        }
                        idx.apply(d);
                    }
                    check(idx, model);
                }
                store.checkpoint();
            }
            assertTrue(store.stats().freePages() > 0, store.stats().toString());
            idx.checkInvariants();
        }
        // each round writes ~4 MiB of values (twice for a third of the keys); without reuse every round would
        // take that much more of the page space
        long first = spaceAfterRound.get(0);
        long last = spaceAfterRound.get(spaceAfterRound.size() - 1);
        assertTrue(last <= first * 1.5, "page space taken after each round's writes: " + spaceAfterRound);
        try (PageStore store = PageStore.open(dir, IndexModelTest.config(8L << 20))) {
            Index idx = Index.open(store, "space");
            check(idx, model);
            idx.checkInvariants();
        }
    }

    @Test
    void deletingMostKeysJoinsUnderfullLeavesAndFreesTheirPages() {
        int keys = 40_000;
        SplittableRandom rnd = new SplittableRandom(9);
        TreeMap<Integer, byte[]> model = new TreeMap<>();
        try (PageStore store = PageStore.open(dir, IndexModelTest.config(8L << 20))) {
            Index idx = Index.open(store, "joins");
            for (int k = 0; k < keys; k += 500) {
                IndexBatch b = new IndexBatch();
                for (int j = k; j < k + 500; j++) {
                    byte[] v = new byte[60 + rnd.nextInt(60)];
                    rnd.nextBytes(v);
                    b.put(key(j), v);
                    model.put(j, v);
                }
                idx.apply(b);
            }
            store.checkpoint();
            long loaded = store.stats().allocatedPages();
            // delete 90% of the keys, at random: hardly any leaf empties, nearly all fall below a quarter
            List<Integer> order = new ArrayList<>(model.keySet());
            java.util.Collections.shuffle(order, new java.util.Random(3));
            for (int i = 0; i < keys * 9 / 10; i += 300) {
                IndexBatch d = new IndexBatch();
                for (int j = i; j < Math.min(keys * 9 / 10, i + 300); j++) {
                    d.delete(key(order.get(j)));
                    model.remove(order.get(j));
                }
                idx.apply(d);
            }
            // push the buffered deletes down to the leaves: rewrite every live key a few times (~2.6 MiB
            // through parents of leaves whose buffers hold ~0.3 MiB)
            for (int round = 0; round < 6; round++) {
                for (int k = 0; k < keys; k += 2000) {
                    IndexBatch b = new IndexBatch();
                    for (int j = k; j < k + 2000; j++) {
                        if (model.containsKey(j)) {
                            byte[] v = model.get(j).clone();
                            v[0]++;
                            b.put(key(j), v);
                            model.put(j, v);
                        }
                    }
                    idx.apply(b);
                }
            }
            store.checkpoint();
            long after = store.stats().allocatedPages();
            IndexStats s = idx.stats();
            assertTrue(s.leafJoins() > 0, s.toString());
            assertTrue(after < loaded / 2, "pages before the deletes " + loaded + ", after " + after + "; " + s);
            idx.checkInvariants();
            checkAll(idx, model, keys);
        }
        try (PageStore store = PageStore.open(dir, IndexModelTest.config(8L << 20))) {
            Index idx = Index.open(store, "joins");
            idx.checkInvariants();
            checkAll(idx, model, keys);
        }
    }

    @Test
    void droppingAnIndexFreesItsPagesAndTheNextIndexReusesThem() {
        byte[] small = "kept".getBytes();
        long spaceAfterFirst;
        try (PageStore store = PageStore.open(dir, IndexModelTest.config(8L << 20))) {
            Index other = Index.open(store, "other");
            other.put(small, small);
            Index big = Index.open(store, "big");
            fill(big, 1); // ~24 MiB through an 8 MiB pool: nodes and overflow pages mostly evicted
            long before = store.stats().allocatedPages();
            spaceAfterFirst = store.stats().pageSpaceBytes();

            assertTrue(Index.drop(store, "big"));
            assertThrows(IllegalStateException.class, () -> big.get(key(1)), "a dropped index refuses reads");
            assertThrows(IllegalStateException.class, () -> big.put(key(1), small), "and writes");
            assertFalse(Index.drop(store, "big"), "already gone");
            long after = store.stats().allocatedPages();
            assertTrue(after <= 4, "left: the catalog and the other index's root: " + after + " of " + before);
            assertEquals(before - after, store.stats().freePages());
            assertArrayEquals(small, other.get(small));
            store.checkpoint();
        }
        try (PageStore store = PageStore.open(dir, IndexModelTest.config(8L << 20))) {
            Index again = Index.open(store, "big");
            assertFalse(again.scan(null, null).hasNext(), "the name opens a new, empty index");
            assertArrayEquals(small, Index.open(store, "other").get(small));
            byte[][] values = fill(again, 2);
            assertTrue(store.stats().pageSpaceBytes() <= spaceAfterFirst * 1.1,
                    "the new index reused the dropped one's pages: " + store.stats().pageSpaceBytes() + " after "
                            + spaceAfterFirst);
            for (int k = 0; k < values.length; k += 97) {
                assertArrayEquals(values[k], again.get(key(k)), "key " + k);
            }
            again.checkInvariants();
        }
    }

    /** Puts 6,000 keys with 3-9 KiB values, the seed picking the values; returns them. */
    private static byte[][] fill(Index idx, int seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[][] values = new byte[6000][];
        for (int k = 0; k < values.length; k += 50) {
            IndexBatch b = new IndexBatch();
            for (int j = k; j < k + 50; j++) {
                values[j] = value(rnd, seed);
                b.put(key(j), values[j]);
            }
            idx.apply(b);
        }
        return values;
    }

    private static void check(Index idx, TreeMap<Integer, byte[]> model) {
        checkAll(idx, model, 600);
    }

    private static void checkAll(Index idx, TreeMap<Integer, byte[]> model, int keys) {
        for (int k = 0; k < keys; k++) {
            byte[] want = model.get(k);
            byte[] got = idx.get(key(k));
            if (want == null) {
                assertNull(got, "key " + k);
            } else {
                assertArrayEquals(want, got, "key " + k);
            }
        }
        int n = 0;
        for (var it = idx.scan(null, null); it.hasNext(); n++) {
            IndexEntry e = it.next();
            int k = ByteBuffer.wrap(e.key()).getInt(4);
            assertTrue(Arrays.equals(model.get(k), e.value()), "scanned key " + k);
        }
        assertEquals(model.size(), n);
    }
}
