package dev.strata.buffer;

import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicInteger;
import org.jetbrains.kotlinx.lincheck.LinChecker;
import org.jetbrains.kotlinx.lincheck.util.LoggingLevel;
import org.jetbrains.kotlinx.lincheck.annotations.Operation;
import org.jetbrains.kotlinx.lincheck.strategy.managed.modelchecking.ModelCheckingOptions;
import org.jetbrains.kotlinx.lincheck.strategy.stress.StressOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Lincheck over the latch word: a counter kept in one page, incremented under the exclusive latch
 * and read under a shared latch or optimistically, must be linearizable to a sequential counter.
 * Lincheck creates an instance per invocation; all share one static pool whose page space equals
 * the pool, so nothing is ever evicted, and each instance takes the next page (reset to 0). Pages are
 * reused modulo a count close to the pool size rather than a small one: when Lincheck aborts an
 * invocation (it does on a failure, to minimise the scenario) the aborted thread may keep its latch,
 * and a later instance reusing that page would hang in its constructor instead of reporting.
 *
 * <p>Lincheck (2.39, asm 9.11.1, JDK 25) runs its model-checking scenarios here (logged at INFO)
 * and found, minimised and traced a mutated lockExclusive that admitted a second writer. Its
 * switch points are the shared accesses it can see: the pool's fields, counters and parking lot.
 * The latch word itself lives in native memory (a VarHandle on a MemorySegment), which Lincheck
 * does not treat as a shared-memory event, so the stress mode and BufferPoolStressTest cover
 * interleavings between a load of the word and its CAS. "Unable to transform
 * java/util/concurrent/ConcurrentHashMap" in the log is about a JDK class no latch uses.
 */
public class LatchWordLincheckTest {
    static final class Shared {
        static final BufferPool POOL = BufferPool.create(BufferPoolConfig.of(256L << 20, 256L << 20), new MemoryPageSource());
        static final int PAGES = 60_000; // of the pool's 65536: an aborted invocation may leak its latch
        static final AtomicInteger NEXT = new AtomicInteger();
    }

    private final long page;

    public LatchWordLincheckTest() {
        page = Math.floorMod(Shared.NEXT.getAndIncrement(), Shared.PAGES);
        try (var g = Shared.POOL.fixExclusive(page)) {
            g.segment().set(ValueLayout.JAVA_LONG, 0, 0L);
        }
    }

    @Operation
    public long exclusiveIncrement() {
        BufferPool pool = Shared.POOL;
        pool.lockExclusive(page);
        try {
            var seg = pool.memory();
            long off = BufferPool.offset(page);
            long v = seg.get(ValueLayout.JAVA_LONG, off) + 1;
            seg.set(ValueLayout.JAVA_LONG, off, v);
            return v;
        } finally {
            pool.unlockExclusive(page);
        }
    }

    @Operation
    public long sharedRead() {
        BufferPool pool = Shared.POOL;
        pool.lockShared(page);
        try {
            return pool.memory().get(ValueLayout.JAVA_LONG, BufferPool.offset(page));
        } finally {
            pool.unlockShared(page);
        }
    }

    @Operation
    public long optimisticRead() {
        return Shared.POOL.readOptimistic(page, seg -> seg.get(ValueLayout.JAVA_LONG, 0));
    }

    /** The sequential specification. */
    public static final class Counter {
        private long value;

        public long exclusiveIncrement() {
            return ++value;
        }

        public long sharedRead() {
            return value;
        }

        public long optimisticRead() {
            return value;
        }
    }

    @Test
    void modelChecking() {
        var options = new ModelCheckingOptions()
                .iterations(8)
                .invocationsPerIteration(40)
                .threads(2)
                .actorsPerThread(2)
                .logLevel(LoggingLevel.INFO)
                .sequentialSpecification(Counter.class);
        long t0 = System.nanoTime();
        int before = Shared.NEXT.get();
        LinChecker.check(LatchWordLincheckTest.class, options);
        System.out.printf("Lincheck model checking: 8 scenarios, %d invocations, %.1f s%n", Shared.NEXT.get() - before,
                (System.nanoTime() - t0) / 1e9);
    }

    @Test
    void stress() {
        var options = new StressOptions()
                .iterations(10)
                .invocationsPerIteration(200)
                .threads(3)
                .actorsPerThread(3)
                .sequentialSpecification(Counter.class);
        LinChecker.check(LatchWordLincheckTest.class, options);
    }

    @AfterAll
    static void closePool() {
        Shared.POOL.close();
    }
}
