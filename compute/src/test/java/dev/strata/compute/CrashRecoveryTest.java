package dev.strata.compute;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.strata.core.PageId;
import dev.strata.testkit.CrashingChild;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills a writer process with SIGKILL at random moments, reopens its store and checks that the
 * store holds exactly the batches 1..c for some c at least the last one whose commit returned and
 * at most the last one started: every acknowledged batch is present and no batch is torn.
 */
class CrashRecoveryTest {
    private static final int CYCLES = 20;

    @TempDir
    Path dir;

    @Test
    void everyAcknowledgedBatchSurvivesSigkillAndNoBatchIsTorn() throws Exception {
        long seed = System.nanoTime();
        System.out.println("CrashRecoveryTest seed " + seed);
        Random rnd = new Random(seed);
        byte[][] model = new byte[CrashWorkload.pages()][];
        for (int p = 0; p < model.length; p++) {
            model[p] = new byte[CrashWorkload.pageBytes(p)];
        }
        long applied = 0;
        long maxRecovered = 0;
        for (int cycle = 0; cycle < CYCLES; cycle++) {
            long[] reported = runAndKill(seed, 200 + rnd.nextInt(1200));
            long lastCommitted = reported[0];
            long lastStarted = reported[1];
            try (PageStore store = PageStore.open(dir, CrashWorkload.config())) {
                long c = store.readOptimistic(PageId.of(0, 0), s -> s.get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
                assertTrue(c >= lastCommitted, "cycle " + cycle + ": batch " + lastCommitted
                        + " was acknowledged but the store recovered only up to " + c);
                assertTrue(c <= Math.max(lastStarted, applied), "cycle " + cycle + ": recovered " + c
                        + " beyond the last started batch " + lastStarted);
                assertTrue(c >= applied, "cycle " + cycle + ": store went back from " + applied + " to " + c);
                for (long i = applied + 1; i <= c; i++) {
                    for (CrashWorkload.Delta d : CrashWorkload.batch(seed, i)) {
                        d.applyTo(model[d.page()]);
                    }
                }
                applied = c;
                maxRecovered = Math.max(maxRecovered, c);
                for (int p = 1; p < model.length; p++) {
                    try (PageHandle h = store.fixShared(PageId.of(0, CrashWorkload.pageNo(p)))) {
                        byte[] actual = h.read(0, model[p].length);
                        if (!java.util.Arrays.equals(model[p], actual)) {
                            fail("cycle " + cycle + ": page " + p + " differs from the state after batch " + c
                                    + " (torn or lost batch): " + describe(seed, p, model[p], actual, c));
                        }
                    }
                }
            }
        }
        assertTrue(maxRecovered > CYCLES, "the writer made too little progress to test anything: " + maxRecovered);
        assertEquals(applied, maxRecovered);
        assertArrayEquals(new long[0], new long[0]);
    }

    /** Which recent batches touched the page, and where the bytes differ: for the failure message. */
    private static String describe(long seed, int page, byte[] expected, byte[] actual, long c) {
        StringBuilder sb = new StringBuilder();
        int first = -1;
        int last = -1;
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] != actual[i]) {
                last = i;
                if (first < 0) {
                    first = i;
                }
            }
        }
        sb.append("bytes differ in [").append(first).append(", ").append(last).append("]; batches touching it:");
        for (long i = Math.max(1, c - 3000); i <= c + 50; i++) {
            for (CrashWorkload.Delta d : CrashWorkload.batch(seed, i)) {
                if (d.from() < 0 && d.page() == page && d.offset() <= last && d.offset() + d.bytes().length > first) {
                    boolean matches = java.util.Arrays.equals(d.bytes(), 0, d.bytes().length, actual, d.offset(),
                            d.offset() + d.bytes().length);
                    sb.append(' ').append(i).append(matches ? "(present)" : "(absent)");
                }
            }
        }
        return sb.toString();
    }

    /** Runs a writer, kills it after {@code millis} of writing; returns {last committed, last started}. */
    private long[] runAndKill(long seed, int millis) throws IOException, InterruptedException {
        CrashingChild.Progress p = CrashingChild.runAndKill(CrashWriter.class, List.of("-Xmx256m"),
                List.of(dir.toString(), Long.toString(seed)), dir.getParent(), Duration.ofMillis(millis), true);
        return new long[] {p.committed(), p.started()};
    }
}
