package dev.strata.index;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
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

    private static void check(Index idx, TreeMap<Integer, byte[]> model) {
        for (int k = 0; k < 600; k++) {
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
