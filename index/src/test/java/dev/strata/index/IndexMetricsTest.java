package dev.strata.index;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.compute.PageStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IndexMetricsTest {
    @TempDir
    Path dir;

    @Test
    void countersFollowTheIndexsCounts() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (PageStore store = PageStore.open(dir, IndexModelTest.config(4L << 20))) {
            Index idx = Index.open(store, "metered");
            IndexMetrics.bind(idx, registry);
            SplittableRandom rnd = new SplittableRandom(5);
            for (int i = 0; i < 40; i++) {
                IndexBatch b = new IndexBatch();
                for (int j = 0; j < 1_000; j++) {
                    b.put(ByteBuffer.allocate(16).putLong(rnd.nextLong()).putLong(j).array(), new byte[100]);
                }
                idx.apply(b);
            }
            IndexStats s = idx.stats();
            assertEquals(40_000.0, count(registry, "strata.index.messages", null));
            assertEquals(s.batches(), (long) count(registry, "strata.index.batches", null));
            assertEquals(s.leafMerges(), (long) count(registry, "strata.index.merges", "leaf"));
            assertEquals(s.bufferMerges(), (long) count(registry, "strata.index.merges", "buffer"));
            assertEquals(s.leafMergeMessages(), (long) count(registry, "strata.index.merge.messages", "leaf"));
            assertEquals(s.bufferMergeMessages(), (long) count(registry, "strata.index.merge.messages", "buffer"));
            assertEquals(s.inPlaceMerges(), (long) count(registry, "strata.index.inplace.merges", null));
            assertEquals(s.leafSplits(), (long) count(registry, "strata.index.splits", "leaf"));
            assertEquals(s.internalSplits(), (long) count(registry, "strata.index.splits", "internal"));
            assertTrue(s.leafMerges() > 0 && s.leafSplits() > 0, s.toString());
            // delete 7 of 8 keys in half of the key space: the leaves there fall below a quarter and are joined
            IndexBatch d = new IndexBatch();
            for (var it = idx.scan(null, null); it.hasNext(); ) {
                byte[] k = it.next().key();
                if (k[0] >= 0 && (k[15] & 7) != 0) {
                    d.delete(k);
                }
            }
            idx.apply(d);
            for (int i = 0; i < 40; i++) { // pushed down to the leaves by more deletes there (of absent keys)
                IndexBatch b = new IndexBatch();
                for (int j = 0; j < 1_000; j++) {
                    b.delete(ByteBuffer.allocate(16).putLong(rnd.nextLong() >>> 1).putLong(-1).array());
                }
                idx.apply(b);
            }
            s = idx.stats();
            assertTrue(s.leafJoins() > 0, s.toString());
            assertEquals(s.leafJoins(), (long) count(registry, "strata.index.leaf.joins", null));
        }
    }

    private static double count(SimpleMeterRegistry r, String name, String kind) {
        var search = r.get(name).tag("index", "metered");
        return (kind == null ? search : search.tag("kind", kind)).functionCounter().count();
    }
}
