package dev.strata.bench;

import dev.strata.buffer.BufferPool;
import dev.strata.buffer.BufferPoolConfig;
import dev.strata.buffer.PageGuard;
import dev.strata.buffer.PageSource;
import dev.strata.buffer.PageWrite;
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
 * every fix misses, loads the page from the source (a synthetic in-memory tier that stamps the
 * page number) and evicts in batches; with {@code dirtyPercent} of fixes exclusive and dirtying the
 * page, eviction also writes back. Measures the pool's own cost of a miss, not a device's.
 */
@State(Scope.Benchmark)
public class MissPathBench extends BenchBase {
    @Param({"0", "50"})
    public int dirtyPercent;

    private BufferPool pool;
    private long pages;
    final LongAdder written = new LongAdder();

    final class StampingSource implements PageSource {
        @Override
        public long read(long pageNo, int sizeClass, MemorySegment dst) {
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
        pages = space / 4096;
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
        long p = rnd.r.nextLong(pages);
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
