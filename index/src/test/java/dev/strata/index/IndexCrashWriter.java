package dev.strata.index;

import dev.strata.compute.PageStore;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;

/**
 * Child process of {@link IndexCrashTest}: applies batches forever (until SIGKILL), printing
 * {@code S i} before batch {@code i} is applied and {@code C i} once it is durable. Batch {@code i}
 * puts {@link #PER_BATCH} keys, deletes key 0 of batch {@code i - 5}, deletes the whole batch {@code i - 30}
 * when {@link #wiped} (runs of seven batches: leaves empty and leave the tree, and large values go, so their
 * pages are freed and reused) and adds {@link #PER_BATCH} to a counter.
 */
public final class IndexCrashWriter {
    static final int PER_BATCH = 10;

    private IndexCrashWriter() {}

    static byte[] key(long batch, int j) {
        return String.format("b%09d-%d", batch, j).getBytes(StandardCharsets.US_ASCII);
    }

    static byte[] value(long batch, int j) {
        int len = j == 9 && batch % 7 == 0 ? 3000 + (int) (batch % 1000) : 20 + (int) ((batch * 31 + j) % 150);
        byte[] v = new byte[len];
        for (int i = 0; i < len; i++) {
            v[i] = (byte) (batch * 7 + j * 13 + i);
        }
        return v;
    }

    static final byte[] COUNTER = "counter".getBytes(StandardCharsets.US_ASCII);
    static final int WIPE_LAG = 30;

    /** Whether batch {@code i} is deleted whole by batch {@code i + WIPE_LAG}. */
    static boolean wiped(long i) {
        return i % 10 < 7;
    }

    static IndexBatch batch(long i) {
        IndexBatch b = new IndexBatch();
        for (int j = 0; j < PER_BATCH; j++) {
            b.put(key(i, j), value(i, j));
        }
        if (i > 5) {
            b.delete(key(i - 5, 0));
        }
        if (i > WIPE_LAG && wiped(i - WIPE_LAG)) {
            for (int j = 0; j < PER_BATCH; j++) {
                b.delete(key(i - WIPE_LAG, j));
            }
        }
        b.upsert(COUNTER, UpsertOperator.ADD_LONG, UpsertOperator.longDelta(PER_BATCH));
        return b;
    }

    /** Writes each line with one write(2), so a SIGKILL never leaves half a line in the pipe. */
    private static final FileOutputStream OUT = new FileOutputStream(FileDescriptor.out);

    private static void println(String line) throws IOException {
        OUT.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
    }

    public static void main(String[] args) throws Exception {
        PageStore store = PageStore.open(Path.of(args[0]), IndexCrashTest.config());
        Index idx = Index.open(store, "crash", IndexCrashTest.options());
        byte[] c = idx.get(COUNTER);
        long done = c == null ? 0 : UpsertOperator.longValue(c) / PER_BATCH;
        println("READY " + done);
        ArrayDeque<Long> ids = new ArrayDeque<>();
        ArrayDeque<CompletableFuture<Long>> inflight = new ArrayDeque<>();
        for (long i = done + 1; ; i++) {
            println("S " + i);
            if (i % 3 == 0) {
                idx.apply(batch(i));
                inflight.add(CompletableFuture.completedFuture(0L));
            } else {
                inflight.add(idx.applyAsync(batch(i)));
            }
            ids.add(i);
            while (inflight.size() > 8 || (!inflight.isEmpty() && inflight.peek().isDone())) {
                inflight.poll().join();
                println("C " + ids.poll());
            }
        }
    }
}
