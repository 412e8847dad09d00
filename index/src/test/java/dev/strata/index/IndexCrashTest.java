package dev.strata.index;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.compute.PageStore;
import dev.strata.compute.PageStoreConfig;
import dev.strata.testkit.CrashingChild;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills an index writer process with SIGKILL at random moments, reopens the store and checks that
 * the index holds exactly batches 1..c for some c between the last acknowledged and the last started
 * batch: every committed key is found with its value, deleted keys are gone, the upserted counter
 * equals the committed batches, no batch is torn, and the tree's invariants hold.
 */
class IndexCrashTest {
    private static final int CYCLES = 20;

    @TempDir
    Path dir;

    static PageStoreConfig config() {
        return PageStoreConfig.defaults().withPool(8L << 20).withCapacity(4L << 30)
                .withCheckpointInterval(Duration.ofMillis(300)).withCheckpointLogBytes(4L << 20)
                .withSegmentBytes(4L << 20);
    }

    static IndexOptions options() {
        return IndexOptions.defaults().withNodeBytes(4096, 16384);
    }

    @Test
    void everyCommittedKeySurvivesSigkill() throws Exception {
        long seed = System.nanoTime();
        System.out.println("IndexCrashTest seed " + seed);
        Random rnd = new Random(seed);
        long recovered = 0;
        for (int cycle = 0; cycle < CYCLES; cycle++) {
            long[] reported = runAndKill(100 + rnd.nextInt(500));
            long committed = reported[0];
            long started = reported[1];
            try (PageStore store = PageStore.open(dir, config())) {
                Index idx = Index.open(store, "crash", options());
                byte[] cv = idx.get(IndexCrashWriter.COUNTER);
                long c = cv == null ? 0 : UpsertOperator.longValue(cv) / IndexCrashWriter.PER_BATCH;
                assertTrue(c >= committed, "cycle " + cycle + ": batch " + committed
                        + " was acknowledged but the index recovered only up to " + c);
                assertTrue(c <= Math.max(started, recovered), "cycle " + cycle + ": recovered " + c
                        + " beyond the last started batch " + started);
                assertTrue(c >= recovered, "cycle " + cycle + ": went back from " + recovered + " to " + c);
                recovered = c;
                idx.checkInvariants();
                verify(idx, c, cycle);
            }
        }
        assertTrue(recovered > CYCLES, "the writer made too little progress: " + recovered);
    }

    /** The full contents must be exactly batches 1..c: checked by one scan and point reads. */
    private static void verify(Index idx, long c, int cycle) {
        Iterator<IndexEntry> it = idx.scan(null, null);
        for (long i = 1; i <= c; i++) {
            for (int j = 0; j < IndexCrashWriter.PER_BATCH; j++) {
                boolean deleted = j == 0 && i + 5 <= c
                        || i + IndexCrashWriter.WIPE_LAG <= c && IndexCrashWriter.wiped(i);
                if (deleted) {
                    continue;
                }
                assertTrue(it.hasNext(), "cycle " + cycle + ": scan ends before batch " + i + " key " + j);
                IndexEntry e = it.next();
                assertArrayEquals(IndexCrashWriter.key(i, j), e.key(), "cycle " + cycle + ": batch " + i + " key " + j);
                assertArrayEquals(IndexCrashWriter.value(i, j), e.value(), "cycle " + cycle + ": value " + i + "/" + j);
            }
        }
        assertTrue(it.hasNext(), "counter missing");
        assertArrayEquals(IndexCrashWriter.COUNTER, it.next().key());
        assertFalse(it.hasNext(), "cycle " + cycle + ": keys beyond batch " + c);
        for (long i = Math.max(1, c - 20); i <= c; i++) {
            assertArrayEquals(IndexCrashWriter.value(i, 3), idx.get(IndexCrashWriter.key(i, 3)));
            if (i + 5 <= c) {
                assertNull(idx.get(IndexCrashWriter.key(i, 0)));
            }
        }
        for (long i = Math.max(1, c - IndexCrashWriter.WIPE_LAG - 20); i + IndexCrashWriter.WIPE_LAG <= c; i++) {
            if (IndexCrashWriter.wiped(i)) {
                assertNull(idx.get(IndexCrashWriter.key(i, 9)), "cycle " + cycle + ": batch " + i + " was deleted");
            }
        }
        assertNull(idx.get(IndexCrashWriter.key(c + 1, 1)));
        byte[] cv = idx.get(IndexCrashWriter.COUNTER);
        assertEquals(c * IndexCrashWriter.PER_BATCH, cv == null ? 0 : UpsertOperator.longValue(cv));
    }

    /** Runs a writer, kills it {@code millis} after it is ready; returns {last committed, last started}. */
    private long[] runAndKill(int millis) throws IOException, InterruptedException {
        CrashingChild.Progress p = CrashingChild.runAndKill(IndexCrashWriter.class,
                List.of("-Xmx256m", "-XX:TieredStopAtLevel=1"), List.of(dir.toString()), dir.getParent(),
                Duration.ofMillis(millis), false);
        return new long[] {p.committed(), p.started()};
    }
}
