package dev.strata.index;

import dev.strata.compute.PageStore;
import java.util.Iterator;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongConsumer;

/**
 * The index phase of {@code ./strata demo}: bulk-loads {@code keys} 8-byte keys (random order) with
 * 100-byte values into the index {@code demo}, then reads random keys and scans the whole index.
 */
public final class IndexDemo {
    private static final int BATCH = 10_000;
    private static final int VALUE_BYTES = 100;

    private IndexDemo() {}

    /**
     * Figures of one run.
     *
     * @param keys keys loaded
     * @param loadPerSecond puts per second, durable at the end of the load
     * @param pointReadsPerSecond random point reads per second
     * @param scanPerSecond entries per second of a full scan
     * @param shape the tree after the load: height, pages, leaf fill
     * @param loadNanos time of the load
     * @param writes what the tree did with the load (merges, what they carried, splits)
     */
    public record Figures(long keys, double loadPerSecond, double pointReadsPerSecond, double scanPerSecond,
            IndexShape shape, long loadNanos, IndexStats writes) {
        /** Tree height after the load. */
        public int height() {
            return shape.height();
        }

        @Override
        public String toString() {
            return String.format("index: %,d keys loaded at %,.0f/s, point reads %,.0f/s, scan %,.0f entries/s"
                    + "%n  index tree: %s%n  index writes: %s", keys, loadPerSecond, pointReadsPerSecond,
                    scanPerSecond, shape, writes);
        }
    }

    static byte[] key(long k) {
        long x = k * 0x9E3779B97F4A7C15L; // a bijection: random order over the key space
        byte[] b = new byte[8];
        for (int i = 0; i < 8; i++) {
            b[i] = (byte) (x >>> (56 - 8 * i));
        }
        return b;
    }

    /**
     * Runs the phase on {@code store}; {@code progress} receives the number of keys loaded so far
     * (after each batch of 10,000), then {@code keys} once more when the load is durable.
     */
    public static Figures run(PageStore store, long keys, LongConsumer progress) {
        return run(store, keys, progress, () -> {});
    }

    /** As {@link #run(PageStore, long, LongConsumer)}; {@code loaded} runs once the load is durable, before the reads. */
    public static Figures run(PageStore store, long keys, LongConsumer progress, Runnable loaded) {
        Index idx = Index.open(store, "demo");
        byte[] value = new byte[VALUE_BYTES];
        new SplittableRandom(1).nextBytes(value);
        long t0 = System.nanoTime();
        CompletableFuture<Long> last = CompletableFuture.completedFuture(0L);
        for (long i = 0; i < keys; i += BATCH) {
            IndexBatch b = new IndexBatch();
            for (long k = i; k < Math.min(keys, i + BATCH); k++) {
                b.put(key(k), value);
            }
            last = idx.applyAsync(b);
            progress.accept(Math.min(keys, i + BATCH));
        }
        last.join();
        long loadNanos = System.nanoTime() - t0;
        IndexStats writes = idx.stats();
        progress.accept(keys);
        loaded.run();
        long reads = Math.min(keys, 1_000_000);
        SplittableRandom rnd = new SplittableRandom(2);
        long t1 = System.nanoTime();
        long found = 0;
        for (long i = 0; i < reads; i++) {
            if (idx.get(key(rnd.nextLong(Math.max(1, keys)))) != null) {
                found++;
            }
        }
        long readNanos = System.nanoTime() - t1;
        if (keys > 0 && found != reads) {
            throw new IllegalStateException("demo index lost keys: found " + found + " of " + reads);
        }
        long t2 = System.nanoTime();
        long scanned = 0;
        for (Iterator<IndexEntry> it = idx.scan(null, null); it.hasNext(); it.next()) {
            scanned++;
        }
        long scanNanos = System.nanoTime() - t2;
        return new Figures(keys, rate(keys, loadNanos), rate(reads, readNanos), rate(scanned, scanNanos),
                idx.shape(), loadNanos, writes);
    }

    private static double rate(long n, long nanos) {
        return nanos == 0 ? 0 : n / (nanos / 1e9);
    }
}
