package dev.strata.memory.bench;

import dev.strata.buffer.BufferPool;
import dev.strata.buffer.BufferPoolConfig;
import dev.strata.buffer.PageSource;
import dev.strata.buffer.PageWrite;
import dev.strata.core.PageId;
import dev.strata.core.remote.RemoteStatus;
import dev.strata.memory.MemoryNodeClient;
import dev.strata.memory.RemoteTier;
import dev.strata.memory.RemoteTierOptions;
import dev.strata.storage.PageFile;
import dev.strata.storage.PageImage;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.LongAdder;

/** Buffer-pool random page reads with a pool 1/8 of the data: local page file tier vs memory node in front of it. */
final class TierBench {
    private TierBench() {}

    /** The embedded default tier (as compute's FileTier): a local {@link PageFile}. */
    static final class FileSource implements PageSource {
        final PageFile file;

        FileSource(PageFile file) {
            this.file = file;
        }

        @Override
        public long read(long pageNo, int sizeClass, MemorySegment dst) throws IOException {
            return file.read(pageNo, dst);
        }

        @Override
        public void write(List<PageWrite> pages) throws IOException {
            List<PageImage> images = new ArrayList<>();
            for (PageWrite w : pages) {
                images.add(new PageImage(w.pageNo(), w.sizeClass(), w.lsn(), w.bytes()));
            }
            file.write(images);
        }
    }

    static void preloadFile(PageFile file, int pages) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            for (int base = 0; base < pages; base += 512) {
                List<PageImage> batch = new ArrayList<>();
                for (int p = base; p < Math.min(pages, base + 512); p++) {
                    MemorySegment s = a.allocate(4096);
                    s.set(ValueLayout.JAVA_LONG, 0, p);
                    batch.add(new PageImage(p, 0, 1, s));
                }
                file.write(batch);
            }
        }
    }

    static void preloadNode(MemoryNodeClient c, int partition, int pages) {
        try (Arena a = Arena.ofShared()) {
            MemorySegment s = a.allocate(4096);
            for (int base = 0; base < pages; base += 256) {
                List<CompletableFuture<RemoteStatus>> fs = new ArrayList<>();
                for (int p = base; p < Math.min(pages, base + 256); p++) {
                    s.set(ValueLayout.JAVA_LONG, 0, p);
                    fs.add(c.put(PageId.of(partition, p), 1, 1, s));
                }
                fs.forEach(CompletableFuture::join);
            }
        }
    }

    /** Random fixShared reads by {@code threads} threads for {@code seconds}; returns reads/s (checks page contents). */
    static double randomReads(PageSource tier, int pages, int threads, double seconds) throws InterruptedException {
        long poolBytes = Math.max(4L << 20, (long) pages * 4096 / 8);
        long space = Math.max(poolBytes, ((long) pages * 4096 + (1 << 20) - 1) & ~((1L << 20) - 1));
        try (BufferPool pool = BufferPool.create(BufferPoolConfig.of(poolBytes, space), tier)) {
            LongAdder reads = new LongAdder();
            long t0 = System.nanoTime();
            long end = System.nanoTime() + (long) (seconds * 1e9);
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                SplittableRandom rnd = new SplittableRandom(t);
                ts.add(Thread.ofPlatform().name("tier-bench-" + t).start(() -> {
                    long n = 0;
                    while ((n & 63) != 0 || System.nanoTime() < end) {
                        long p = rnd.nextInt(pages);
                        try (var g = pool.fixShared(p)) {
                            if (g.segment().get(ValueLayout.JAVA_LONG, 0) != p) {
                                throw new IllegalStateException("page " + p + " has wrong contents");
                            }
                        }
                        n++;
                    }
                    reads.add(n);
                }));
            }
            for (Thread t : ts) {
                t.join();
            }
            return reads.sum() * 1e9 / (System.nanoTime() - t0);
        }
    }

    static RemoteTier remote(PageSource below, MemoryNodeClient client, int partition) {
        return new RemoteTier(below, client, partition, () -> 1, RemoteTierOptions.defaults(), false);
    }
}
