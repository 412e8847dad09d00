package dev.strata.bench;

import dev.strata.buffer.BufferPool;
import dev.strata.buffer.BufferPoolConfig;
import dev.strata.buffer.PageGuard;
import dev.strata.buffer.PageSource;
import dev.strata.buffer.PageWrite;
import dev.strata.core.PageSize;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.LongAdder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

/**
 * Page miss + eviction throughput: random shared fixes over a page space 16x the pool, so almost
 * every fix misses, loads the page from the source (a synthetic in-memory tier that fills the whole
 * page, as a tier's read copies a whole image, and stamps the page number) and evicts in batches; with
 * {@code dirtyPercent} of fixes exclusive and dirtying the page, eviction also writes back. Pages of
 * {@code pageKiB} (4 KiB, or the index's 64 KiB nodes). Measures the pool's own cost of a miss
 * (releasing and faulting in frames included), not a device's.
 */
@State(Scope.Benchmark)
public class MissPathBench extends BenchBase {
    @Param({"0", "50"})
    public int dirtyPercent;

    @Param({"4", "64"})
    public int pageKiB;

    private BufferPool pool;
    private long pages;
    private long stride;
    private MemorySegment image;
    final LongAdder written = new LongAdder();

    final class StampingSource implements PageSource {
        @Override
        public long read(long pageNo, int sizeClass, MemorySegment dst) {
            MemorySegment.copy(image, 0, dst, 0, dst.byteSize());
            dst.set(ValueLayout.JAVA_LONG, 0, pageNo);
            return 0;
        }

        @Override
        public void write(List<PageWrite> batch) {
            written.add(batch.size());
        }
    }

    @State(Scope.Thread)
    public static class Rnd {
        final SplittableRandom r = new SplittableRandom(Thread.currentThread().threadId());
    }

    @Setup(Level.Trial)
    public void setup() {
        long poolBytes = 16L << 20;
        long space = 256L << 20;
        pool = BufferPool.create(BufferPoolConfig.of(poolBytes, space), new StampingSource());
        int pageBytes = pageKiB << 10;
        image = MemorySegment.ofArray(new byte[pageBytes]).fill((byte) 7);
        stride = pageBytes / PageSize.BASE;
        pages = space / pageBytes;
        if (pageBytes > PageSize.BASE) {
            for (long i = 0; i < pages; i++) {
                pool.defineSizeClass(i * stride, PageSize.classOf(pageBytes));
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
    }

    @Benchmark
    @Threads(1)
    public long missOneThread(Rnd rnd) {
        return fix(rnd);
    }

    @Benchmark
    @Threads(2)
    public long missTwoThreads(Rnd rnd) {
        return fix(rnd);
    }

    private long fix(Rnd rnd) {
        long p = rnd.r.nextLong(pages) * stride;
        if (rnd.r.nextInt(100) < dirtyPercent) {
            try (PageGuard g = pool.fixExclusive(p)) {
                pool.markDirty(p);
                return g.segment().get(ValueLayout.JAVA_LONG, 0);
            }
        }
        try (PageGuard g = pool.fixShared(p)) {
            return g.segment().get(ValueLayout.JAVA_LONG, 0);
        }
    }
}
