package dev.strata.bench;

import dev.strata.buffer.BufferPool;
import dev.strata.buffer.BufferPoolConfig;
import dev.strata.buffer.PageGuard;
import dev.strata.buffer.PageSource;
import dev.strata.buffer.PageWrite;
import dev.strata.core.NativeMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The buffer pool's hit path against a plain {@link MemorySegment} read of the same bytes: an
 * optimistic read (version, read, validate) and a shared fix (CAS in, read, CAS out) of a resident
 * page, reading either one long or the whole 4 KiB page. Target: optimistic within 3x of plain.
 */
@State(Scope.Benchmark)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class HitPathBench extends BenchBase {
    private static final int PAGES = 1024;

    @Param({"8", "4096"})
    public int bytes;

    private BufferPool pool;
    private NativeMemory plain;
    private MemorySegment plainSeg;
    private MemorySegment poolMem;
    private byte[] dst;
    private int next;

    /** A source that hands out zero pages and discards writes: the pool never misses after warm-up. */
    static final class NullSource implements PageSource {
        @Override
        public long read(long pageNo, int sizeClass, MemorySegment dst) {
            return 0;
        }

        @Override
        public void write(List<PageWrite> pages) {}
    }

    @Setup
    public void setup() {
        pool = BufferPool.create(BufferPoolConfig.of(64L << 20, 1L << 30), new NullSource());
        plain = NativeMemory.reserve(PAGES * 4096L);
        plainSeg = plain.segment();
        poolMem = pool.memory();
        for (int p = 0; p < PAGES; p++) {
            try (PageGuard g = pool.fixExclusive(p)) {
                g.segment().set(ValueLayout.JAVA_LONG, 0, p);
            }
            plainSeg.set(ValueLayout.JAVA_LONG, p * 4096L, p);
        }
        dst = new byte[4096];
    }

    @TearDown
    public void tearDown() {
        pool.close();
        plain.close();
    }

    private int nextPage() {
        int p = next;
        next = (p + 1) & (PAGES - 1);
        return p;
    }

    @Benchmark
    public void plainRead(Blackhole bh) {
        long off = nextPage() * 4096L;
        if (bytes == 8) {
            bh.consume(plainSeg.get(ValueLayout.JAVA_LONG, off));
        } else {
            MemorySegment.copy(plainSeg, ValueLayout.JAVA_BYTE, off, dst, 0, 4096);
            bh.consume(dst);
        }
    }

    @Benchmark
    public void optimisticRead(Blackhole bh) {
        int p = nextPage();
        long off = BufferPool.offset(p);
        while (true) {
            long v = pool.optimisticVersion(p);
            long value = 0;
            if (bytes == 8) {
                value = poolMem.get(ValueLayout.JAVA_LONG, off);
            } else {
                MemorySegment.copy(poolMem, ValueLayout.JAVA_BYTE, off, dst, 0, 4096);
            }
            if (pool.validate(p, v)) {
                bh.consume(value);
                bh.consume(dst);
                return;
            }
        }
    }

    @Benchmark
    public void sharedFix(Blackhole bh) {
        int p = nextPage();
        long off = BufferPool.offset(p);
        pool.lockShared(p);
        try {
            if (bytes == 8) {
                bh.consume(poolMem.get(ValueLayout.JAVA_LONG, off));
            } else {
                MemorySegment.copy(poolMem, ValueLayout.JAVA_BYTE, off, dst, 0, 4096);
                bh.consume(dst);
            }
        } finally {
            pool.unlockShared(p);
        }
    }

    @Benchmark
    public void sharedGuard(Blackhole bh) {
        int p = nextPage();
        try (PageGuard g = pool.fixShared(p)) {
            if (bytes == 8) {
                bh.consume(g.segment().get(ValueLayout.JAVA_LONG, 0));
            } else {
                MemorySegment.copy(g.segment(), ValueLayout.JAVA_BYTE, 0, dst, 0, 4096);
                bh.consume(dst);
            }
        }
    }
}
