package dev.strata.compute;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.strata.core.PageId;
import java.io.IOException;
import java.nio.file.Files;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
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
                        System.arraycopy(d.bytes(), 0, model[d.page()], d.offset(), d.bytes().length);
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
                if (d.page() == page && d.offset() <= last && d.offset() + d.bytes().length > first) {
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
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path out = Files.createTempFile(dir.getParent(), "crash-writer", ".out");
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), CrashWriter.class.getName(), dir.toString(),
                Long.toString(seed)).redirectError(ProcessBuilder.Redirect.INHERIT)
                .redirectOutput(out.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.readString(out).contains("READY")) {
                if (!p.isAlive() || System.nanoTime() > deadline) {
                    fail("writer did not start (alive=" + p.isAlive() + ")");
                }
                Thread.sleep(5); // polling a file for a condition, with a deadline
            }
            Thread.sleep(millis); // the crash moment, not synchronization
        } finally {
            p.destroyForcibly(); // SIGKILL
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                fail("writer " + p.pid() + " survived SIGKILL");
            }
        }
        // only newline-terminated lines count: a line cut by the kill was never fully written
        String text = Files.readString(out);
        Files.delete(out);
        long committed = 0;
        long started = 0;
        for (String l : text.substring(0, text.lastIndexOf('\n') + 1).split("\n")) {
            if (l.startsWith("C ")) {
                committed = Long.parseLong(l.substring(2));
            } else if (l.startsWith("S ")) {
                started = Long.parseLong(l.substring(2));
            }
        }
        return new long[] {committed, started};
    }
}
