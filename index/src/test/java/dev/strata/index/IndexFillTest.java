package dev.strata.index;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.compute.PageStore;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A load in ascending (or descending) key order leaves full pages behind it, as LMDB's {@code MDB_APPEND}
 * does: the leaves and internal nodes it splits keep the parts it has passed full, since it never comes
 * back to them. A random load divides what it splits evenly, so that later inserts find room. A packed
 * tree stays correct when later writes land between its keys.
 */
class IndexFillTest {
    @TempDir
    Path dir;

    private static final int KEYS = 200_000;

    private static byte[] key(int k) {
        return ByteBuffer.allocate(4).putInt(k).array();
    }

    private static byte[] value(int k, int round) {
        byte[] v = new byte[100];
        Arrays.fill(v, (byte) (k * 31 + round));
        return v;
    }

    private static void load(Index idx, int[] order, int perBatch, TreeMap<byte[], byte[]> model) {
        for (int i = 0; i < order.length; i += perBatch) {
            IndexBatch b = new IndexBatch();
            for (int j = i; j < Math.min(order.length, i + perBatch); j++) {
                b.put(key(order[j]), value(order[j], 0));
                model.put(key(order[j]), value(order[j], 0));
            }
            idx.apply(b);
        }
    }

    @Test
    void anOrderedLoadFillsItsLeavesAndInternalNodes() {
        // large batches go straight to the leaves, small ones through the buffers; ascending or descending
        for (int perBatch : new int[] {10_000, 50, -10_000, -50}) {
            try (PageStore store = PageStore.open(dir.resolve("b" + perBatch), IndexModelTest.config(256L << 20))) {
                Index idx = Index.open(store, "ordered");
                int[] order = new int[KEYS];
                // even keys: the odd ones land between them below
                Arrays.setAll(order, i -> perBatch > 0 ? 2 * i : 2 * (KEYS - 1 - i));
                TreeMap<byte[], byte[]> model = new TreeMap<>(Arrays::compareUnsigned);
                load(idx, order, Math.abs(perBatch), model);
                IndexShape s = idx.shape();
                String load = (perBatch > 0 ? "ascending, " : "descending, ") + Math.abs(perBatch) + " per batch: ";
                // an even split at ~90% (what every split did before) fills leaves 85-90%
                assertTrue(s.leafFill() >= 0.97, load + s);
                // 64 children per node above the leaves (IndexOptions' 64 KiB internal nodes): full
                // nodes but the last of each level, where halving splits leave them 32-64 children
                assertTrue(s.internalNodes() <= s.leaves() / 60 + 2, load + s);
                assertEquals(idx.height(), s.height(), s.toString());
                assertEquals(idx.checkInvariants(), s.records(), s.toString());
                assertEquals(KEYS, s.records() + s.bufferedMessages(), s.toString());

                // later writes between the packed keys split full leaves and stay correct
                SplittableRandom rnd = new SplittableRandom(Math.abs(perBatch));
                for (int round = 1; round <= 3; round++) {
                    IndexBatch b = new IndexBatch();
                    for (int i = 0; i < 5_000; i++) {
                        int k = rnd.nextInt(2 * KEYS);
                        if (rnd.nextInt(4) == 0) {
                            b.delete(key(k));
                            model.remove(key(k));
                        } else {
                            b.put(key(k), value(k, round));
                            model.put(key(k), value(k, round));
                        }
                    }
                    idx.apply(b);
                }
                check(idx, model);
            }
        }
    }

    @Test
    void twoAscendingLoadsOfNeighbouringRangesFillTheirLeaves() {
        // two writers loading [0, KEYS) and [KEYS, 2 KEYS) in order, their batches alternating: the first range's
        // batches land in a leaf whose last records are the second range's first keys, between two of its records
        for (int perBatch : new int[] {10_000, 1_000}) {
            try (PageStore store = PageStore.open(dir.resolve("two" + perBatch), IndexModelTest.config(256L << 20))) {
                Index idx = Index.open(store, "two");
                int[] order = new int[2 * KEYS];
                for (int i = 0; i < 2 * KEYS; i++) {
                    int batch = i / perBatch;
                    int second = batch % 2; // even batches from the first range, odd ones from the second
                    order[i] = second * KEYS + (batch / 2) * perBatch + i % perBatch;
                }
                TreeMap<byte[], byte[]> model = new TreeMap<>(Arrays::compareUnsigned);
                load(idx, order, perBatch, model);
                IndexShape s = idx.shape();
                // divided evenly at ~90%, the first range's leaves left the tree's leaves 94% full
                assertTrue(s.leafFill() >= 0.97, perBatch + " per batch: " + s);
                assertEquals(idx.checkInvariants(), s.records(), s.toString());
                assertEquals(2 * KEYS, s.records() + s.bufferedMessages(), s.toString());
                check(idx, model);
            }
        }
    }

    @Test
    void aRandomLoadSplitsEvenly() {
        int[] random = new int[KEYS];
        Arrays.setAll(random, i -> i);
        SplittableRandom rnd = new SplittableRandom(3);
        for (int i = KEYS - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = random[i];
            random[i] = random[j];
            random[j] = t;
        }
        try (PageStore store = PageStore.open(dir.resolve("random"), IndexModelTest.config(256L << 20))) {
            Index idx = Index.open(store, "random");
            TreeMap<byte[], byte[]> model = new TreeMap<>(Arrays::compareUnsigned);
            load(idx, random, 1_000, model);
            IndexShape s = idx.shape();
            // no part is packed: each split leaves room in every part for the keys still to come
            assertTrue(s.leafFill() > 0.5 && s.leafFill() < 0.92, s.toString());
            check(idx, model);
        }
    }

    private static void check(Index idx, TreeMap<byte[], byte[]> model) {
        Iterator<IndexEntry> it = idx.scan(null, null);
        for (Map.Entry<byte[], byte[]> e : model.entrySet()) {
            assertTrue(it.hasNext(), "scan ended early");
            IndexEntry got = it.next();
            assertArrayEquals(e.getKey(), got.key());
            assertArrayEquals(e.getValue(), got.value());
        }
        assertFalse(it.hasNext(), "scan returned a key the model lacks");
        idx.checkInvariants();
    }
}
