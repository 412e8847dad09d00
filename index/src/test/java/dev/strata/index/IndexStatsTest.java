package dev.strata.index;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.compute.PageStore;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Index#stats()} counts what the tree did with the writes: every message reaches a leaf at most
 * once and every level between the root and the leaves at most once, a sequential load skips the buffers,
 * and a random load out of memory merges into buffers and leaves, carrying several messages per merge.
 */
class IndexStatsTest {
    @TempDir
    Path dir;

    @Test
    void aRandomLoadMergesThroughTheBuffersAndEveryMessageReachesEachLevelAtMostOnce() {
        try (PageStore store = PageStore.open(dir, IndexModelTest.config(4L << 20))) {
            Index idx = Index.open(store, "stats");
            SplittableRandom rnd = new SplittableRandom(11);
            int keys = 120_000;
            int perBatch = 500;
            for (int i = 0; i < keys; i += perBatch) {
                IndexBatch b = new IndexBatch();
                for (int j = 0; j < perBatch; j++) {
                    b.put(ByteBuffer.allocate(16).putLong(rnd.nextLong()).putLong(i + j).array(), new byte[100]);
                }
                idx.apply(b);
            }
            IndexStats s = idx.stats();
            int height = idx.height();
            assertTrue(height >= 3, "height " + height);
            // a batch larger than a part (1/128 of the pool, at least 32 KiB) is written as several
            assertTrue(s.batches() >= keys / perBatch, s.toString());
            assertEquals(keys, s.messages(), s.toString());
            assertEquals(0, s.directBatches(), "random batches never fall into one leaf: " + s);
            assertTrue(s.leafMerges() > 0 && s.bufferMerges() > 0, s.toString());
            assertTrue(s.leafMergeMessages() <= s.messages(), "a message is merged into a leaf at most once: " + s);
            assertTrue(s.bufferMergeMessages() <= s.messages() * (long) (height - 2),
                    "a message is merged into each level below the root at most once: " + s);
            assertTrue(s.messagesPerLeafMerge() > 1 && s.messagesPerBufferMerge() > 1,
                    "merges carry several messages each: " + s);
            assertTrue(s.inPlaceMerges() <= s.leafMerges() + s.bufferMerges(), s.toString());
            assertTrue(s.leafSplits() > 0 && s.internalSplits() > 0, s.toString());
            idx.checkInvariants();
            assertEquals(keys, count(idx), s.toString());
        }
    }

    @Test
    void aSequentialLoadGoesStraightToTheLeaves() {
        try (PageStore store = PageStore.open(dir, IndexModelTest.config(64L << 20))) {
            Index idx = Index.open(store, "seq");
            int keys = 100_000;
            int perBatch = 10_000;
            for (int i = 0; i < keys; i += perBatch) {
                IndexBatch b = new IndexBatch();
                for (int j = i; j < i + perBatch; j++) {
                    b.put(ByteBuffer.allocate(4).putInt(j).array(), new byte[100]);
                }
                idx.apply(b);
            }
            IndexStats s = idx.stats();
            assertTrue(s.batches() >= keys / perBatch, s.toString());
            assertEquals(keys, s.messages(), s.toString());
            // the first part lands in the root while it is still a leaf; every later one goes straight to its leaf
            assertEquals(s.batches() - 1, s.directBatches(), s.toString());
            assertEquals(s.directBatches(), s.leafMerges(), "one leaf merge per direct batch: " + s);
            long firstPart = keys - s.leafMergeMessages();
            assertTrue(firstPart > 0 && firstPart <= perBatch, s.toString());
            assertEquals(0, s.bufferMerges(), "nothing was buffered: " + s);
            assertTrue(s.leafSplits() > 0, s.toString());
            assertEquals(keys, idx.checkInvariants());
        }
    }

    /** Entries a full scan returns: leaf records and buffered puts alike. */
    private static long count(Index idx) {
        long all = 0;
        for (var it = idx.scan(null, null); it.hasNext(); it.next()) {
            all++;
        }
        return all;
    }
}
