package dev.strata.index;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.compute.PageStore;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tree's shape follows memory: while the store fits its pool, internal nodes keep up to 64
 * children (fewer levels for reads); once the pool has had to evict, nodes below the root split at 8
 * (more messages per flush into a child that must be read from storage), and the wider nodes built
 * before split as they next change.
 */
class IndexFanoutTest {
    private static final int KEYS = 150_000;

    @TempDir
    Path dir;

    @Test
    void aTreeThatFitsItsPoolKeepsWideNodes() {
        try (PageStore store = PageStore.open(dir, IndexModelTest.config(256L << 20))) {
            Index idx = load(store);
            assertFalse(store.poolOutgrown(), "18 MB of records fit a 256 MiB pool");
            int widest = idx.maxChildrenBelowRoot();
            assertTrue(widest > 12 && widest <= 64, "widest node below the root: " + widest);
            check(idx);
        }
    }

    @Test
    void aTreeThatOutgrowsItsPoolSplitsNodesBelowTheRootAtEightChildren() {
        try (PageStore store = PageStore.open(dir, IndexModelTest.config(4L << 20))) {
            Index idx = load(store);
            assertTrue(store.poolOutgrown(), "18 MB of records cannot fit a 4 MiB pool");
            int widest = idx.maxChildrenBelowRoot();
            assertTrue(widest >= 2 && widest <= 8, "widest node below the root: " + widest);
            assertTrue(idx.height() >= 3, "height " + idx.height());
            check(idx);
        }
    }

    private static Index load(PageStore store) {
        Index idx = Index.open(store, "fanout");
        SplittableRandom rnd = new SplittableRandom(7);
        for (int i = 0; i < KEYS; i += 5_000) {
            IndexBatch b = new IndexBatch();
            for (int j = i; j < i + 5_000; j++) {
                b.put(key(rnd, j), value(j));
            }
            idx.apply(b);
        }
        return idx;
    }

    private static void check(Index idx) {
        idx.checkInvariants();
        long scanned = 0;
        for (var it = idx.scan(null, null); it.hasNext(); it.next()) {
            scanned++;
        }
        assertEquals(KEYS, scanned);
        SplittableRandom rnd = new SplittableRandom(7);
        for (int j = 0; j < KEYS; j++) {
            byte[] k = key(rnd, j);
            if (j % 97 == 0) {
                assertArrayEquals(value(j), idx.get(k), "key #" + j);
            }
        }
    }

    /** Key #j: 8 random bytes then j, so keys are distinct and in random order. */
    private static byte[] key(SplittableRandom rnd, int j) {
        return ByteBuffer.allocate(12).putLong(rnd.nextLong()).putInt(j).array();
    }

    private static byte[] value(int j) {
        byte[] v = new byte[100];
        ByteBuffer.wrap(v).putInt(j).putInt(~j);
        return v;
    }
}
