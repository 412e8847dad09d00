package dev.strata.deploy;

import dev.strata.buffer.PoolStats;
import dev.strata.compute.PageHandle;
import dev.strata.compute.PageStore;
import dev.strata.compute.PageStoreConfig;
import dev.strata.compute.PageStoreStats;
import dev.strata.compute.WriteBatch;
import dev.strata.core.ByteSize;
import dev.strata.core.ProcessStats;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code strata demo}: the main job on the embedded default. Creates a store, loads pages through
 * logged, group-committed batches (more pages than the pool holds, so eviction and write-back run),
 * reopens it, reads every page back in random order and verifies it, and prints the figures.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Create an embedded store, load pages, reopen, read them back verified, print figures.")
public final class DemoCommand implements Callable<Integer> {
    @Option(names = "--dir", description = "store directory (default: a temporary one, deleted afterwards)")
    Path dir;

    @Option(names = "--pages", description = "pages to load (default: ${DEFAULT-VALUE})", defaultValue = "65536")
    int pages;

    @Option(names = "--page-size", description = "page size in bytes, 4096..262144 (default: ${DEFAULT-VALUE})",
            defaultValue = "4096")
    int pageSize;

    @Option(names = "--pool", description = "buffer pool size (default: ${DEFAULT-VALUE})", defaultValue = "64MiB")
    String pool;

    @Option(names = "--batch", description = "pages per write batch (default: ${DEFAULT-VALUE})", defaultValue = "16")
    int batchPages;

    private final PrintStream out = System.out;

    @Override
    public Integer call() throws Exception {
        if (pages < 1 || batchPages < 1) {
            throw new IllegalArgumentException("--pages and --batch must be positive");
        }
        long poolBytes = ByteSize.parse(pool);
        boolean temporary = dir == null;
        Path storeDir = temporary ? Files.createTempDirectory("strata-demo-") : dir;
        long dataBytes = (long) pages * pageSize;
        PageStoreConfig config = PageStoreConfig.defaults().withPool(poolBytes)
                .withCapacity(Math.max(64L << 30, 2 * dataBytes));
        out.printf("Strata demo: %,d pages of %s (%s) through a %s buffer pool in %s%n", pages,
                ByteSize.format(pageSize), ByteSize.format(dataBytes), ByteSize.format(poolBytes), storeDir);
        long rssBefore = ProcessStats.residentBytes();
        try {
            long[] ids = load(storeDir, config);
            verify(storeDir, config, ids, rssBefore);
        } finally {
            if (temporary) {
                deleteTree(storeDir);
            }
        }
        return 0;
    }

    private long[] load(Path storeDir, PageStoreConfig config) {
        long[] ids = new long[pages];
        byte[] content = new byte[pageSize];
        long start = System.nanoTime();
        PageStoreStats stats;
        try (PageStore store = PageStore.open(storeDir, config);
                ProgressBar bar = bar("load", pages)) {
            List<CompletableFuture<Long>> inflight = new ArrayList<>();
            for (int first = 0; first < pages; first += batchPages) {
                int n = Math.min(batchPages, pages - first);
                try (WriteBatch batch = store.newBatch()) {
                    for (int k = 0; k < n; k++) {
                        int i = first + k;
                        ids[i] = batch.allocate(pageSize);
                        fill(content, ids[i]);
                        try (PageHandle h = store.fixExclusive(ids[i])) {
                            batch.write(h, 0, content);
                        }
                    }
                    inflight.add(batch.commitAsync());
                }
                if (inflight.size() >= 32) {
                    inflight.removeFirst().join();
                }
                bar.stepTo(first + n);
            }
            inflight.forEach(CompletableFuture::join);
            stats = store.stats();
        }
        double secs = (System.nanoTime() - start) / 1e9;
        out.printf("load:   %,d pages committed durably in %.2f s: %,.0f pages/s, %s/s; %,d commits in %,d fsyncs%n",
                pages, secs, pages / secs, ByteSize.format((long) (pages * (double) pageSize / secs)),
                stats.commits(), stats.fsyncs());
        printPool("        ", stats.pool());
        return ids;
    }

    private void verify(Path storeDir, PageStoreConfig config, long[] ids, long rssBefore) {
        long start = System.nanoTime();
        SplittableRandom rnd = new SplittableRandom(42);
        int[] order = new int[ids.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        for (int i = order.length - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        byte[] expected = new byte[pageSize];
        long bad = 0;
        PageStoreStats stats;
        long reopenMillis;
        try (PageStore store = PageStore.open(storeDir, config)) {
            reopenMillis = (System.nanoTime() - start) / 1_000_000;
            try (ProgressBar bar = bar("verify", ids.length)) {
                for (int n = 0; n < order.length; n++) {
                    long id = ids[order[n]];
                    fill(expected, id);
                    try (PageHandle h = store.fixShared(id)) {
                        if (MemorySegment.mismatch(h.segment(), 0, pageSize, MemorySegment.ofArray(expected), 0,
                                pageSize) >= 0) {
                            bad++;
                        }
                    }
                    if ((n & 1023) == 0) {
                        bar.stepTo(n);
                    }
                }
                bar.stepTo(order.length);
            }
            // a second, hot pass over a pool-sized working set shows the hit path
            int hot = (int) Math.min(ids.length, config.poolBytes() / pageSize / 2);
            for (int n = 0; n < hot; n++) {
                long id = ids[n];
                long v = store.readOptimistic(id, s -> s.get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
                if (v != id) {
                    bad++;
                }
            }
            stats = store.stats();
        }
        double secs = (System.nanoTime() - start) / 1e9;
        out.printf("verify: reopened in %d ms, %,d pages read back in random order in %.2f s: %,.0f pages/s; %s%n",
                reopenMillis, ids.length, secs, ids.length / secs, bad == 0 ? "all intact" : bad + " CORRUPT");
        printPool("        ", stats.pool());
        long rss = ProcessStats.residentBytes();
        out.printf("memory: process resident %s (grew %s during the demo); pool resident %s of %s%n",
                ByteSize.format(rss), ByteSize.format(rss - rssBefore), ByteSize.format(stats.pool().residentBytes()),
                ByteSize.format(stats.pool().poolBytes()));
        if (bad != 0) {
            throw new IllegalStateException(bad + " pages did not read back as written");
        }
    }

    private void printPool(String indent, PoolStats p) {
        out.printf("%spool: %,d hits, %,d misses, %,d evictions, %,d write-backs (%s read, %s written)%n", indent,
                p.hits(), p.misses(), p.evictions(), p.writeBacks(), ByteSize.format(p.bytesRead()),
                ByteSize.format(p.bytesWritten()));
    }

    /** Deterministic content of a page: its id, then a pattern derived from it. */
    static void fill(byte[] page, long id) {
        MemorySegment s = MemorySegment.ofArray(page);
        long x = id * 0x9E3779B97F4A7C15L + 1;
        for (int off = 0; off < page.length; off += 8) {
            s.set(ValueLayout.JAVA_LONG_UNALIGNED, off, off == 0 ? id : x);
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
        }
    }

    static ProgressBar bar(String task, long max) {
        return new ProgressBarBuilder().setTaskName(task).setInitialMax(max).setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(200).continuousUpdate().setMaxRenderedLength(100).build();
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
