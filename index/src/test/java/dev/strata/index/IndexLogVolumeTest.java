package dev.strata.index;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.compute.PageStore;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a random load logs per insert. Internal nodes compact on almost every flush and leaves on every
 * split; a compaction logs where the kept entries moved (a few bytes per run), not the relaid page, so
 * the log stays within a few times the keys and values inserted.
 */
class IndexLogVolumeTest {
    @TempDir
    Path dir;

    @Test
    void aRandomLoadLogsAFewTimesItsDataNotItsPages() {
        int n = 300_000;
        int batch = 10_000;
        Random rnd = new Random(42);
        byte[] value = new byte[100];
        try (PageStore store = PageStore.open(dir, IndexModelTest.config(256L << 20))) {
            Index idx = Index.open(store, "log-volume");
            long before = store.stats().logBytes();
            int[] keys = new int[n];
            for (int i = 0; i < n; i++) {
                keys[i] = i;
            }
            for (int i = n - 1; i > 0; i--) {
                int j = rnd.nextInt(i + 1);
                int t = keys[i];
                keys[i] = keys[j];
                keys[j] = t;
            }
            for (int i = 0; i < n; i += batch) {
                IndexBatch b = new IndexBatch();
                for (int j = i; j < i + batch; j++) {
                    rnd.nextBytes(value);
                    b.put(ByteBuffer.allocate(4).putInt(keys[j]).array(), value.clone());
                }
                idx.apply(b);
            }
            double perInsert = (double) (store.stats().logBytes() - before) / n;
            System.out.printf("IndexLogVolumeTest: %.0f log bytes per insert of 104 bytes, height %d%n", perInsert,
                    idx.height());
            // 300 with compaction as moves; 448 when a compaction logged the diff of a relaid page
            assertTrue(perInsert < 360, "log bytes per insert: " + perInsert);
            idx.checkInvariants();
            byte[] probe = ByteBuffer.allocate(4).putInt(keys[n / 2]).array();
            assertTrue(idx.get(probe) != null && idx.get(probe).length == 100);
            assertArrayEquals(null, idx.get(ByteBuffer.allocate(4).putInt(n + 1).array()));
        }
    }
}
