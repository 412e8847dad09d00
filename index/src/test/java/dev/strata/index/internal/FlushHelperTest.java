package dev.strata.index.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class FlushHelperTest {
    @Test
    void runsEveryIndexExactlyOnce() {
        for (int count : new int[] {0, 1, 2, 7, 1000}) {
            AtomicIntegerArray runs = new AtomicIntegerArray(Math.max(1, count));
            Set<String> threads = ConcurrentHashMap.newKeySet();
            FlushHelper.forEach(count, k -> {
                runs.incrementAndGet(k);
                threads.add(Thread.currentThread().getName());
                spin(20_000);
            });
            for (int k = 0; k < count; k++) {
                assertEquals(1, runs.get(k), "index " + k + " of " + count);
            }
            assertTrue(threads.size() <= 2, "ran on " + threads);
        }
    }

    @Test
    void neverReturnsWhileATaskRunsNorRunsOneAfterwards() {
        // two quick tasks: the caller often takes both before the helper it woke gets a core, and then returns
        // without waiting for it; when the helper did start, the caller waits for it
        AtomicInteger running = new AtomicInteger();
        AtomicInteger late = new AtomicInteger();
        for (int call = 0; call < 20_000; call++) {
            AtomicIntegerArray runs = new AtomicIntegerArray(2);
            boolean[] returned = {false};
            FlushHelper.forEach(2, k -> {
                running.incrementAndGet();
                synchronized (returned) {
                    if (returned[0]) {
                        late.incrementAndGet();
                    }
                }
                runs.incrementAndGet(k);
                running.decrementAndGet();
            });
            assertEquals(0, running.get(), "call " + call + ": a task still ran after forEach returned");
            synchronized (returned) {
                returned[0] = true;
            }
            assertEquals(1, runs.get(0), "call " + call);
            assertEquals(1, runs.get(1), "call " + call);
        }
        spin(50_000_000); // helpers woken by the last calls have run by now
        assertEquals(0, late.get(), "tasks ran after their forEach returned");
    }

    @Test
    void aFailureStopsBothAndIsThrownOnceBothStopped() {
        for (int failAt : new int[] {0, 5, 63}) {
            AtomicInteger running = new AtomicInteger();
            AtomicInteger started = new AtomicInteger();
            AtomicInteger startedAtFailure = new AtomicInteger();
            IllegalStateException boom = new IllegalStateException("task " + failAt);
            IllegalStateException thrown = assertThrows(IllegalStateException.class,
                    () -> FlushHelper.forEach(64, k -> {
                        running.incrementAndGet();
                        started.incrementAndGet();
                        try {
                            spin(200_000);
                            if (k == failAt) {
                                startedAtFailure.set(started.get());
                                throw boom;
                            }
                        } finally {
                            running.decrementAndGet();
                        }
                    }));
            assertSame(boom, thrown);
            assertEquals(0, running.get(), "a task still ran after forEach returned");
            // the failing thread takes no more; the other finishes the one it holds and stops. Counted from the
            // failure, not from failAt: the other thread may run many tasks while the failing one is descheduled.
            // At most two more start: one the other thread took before the failure reached the shared counter, and
            // (in the few instructions between this count and that) the one after it
            assertTrue(started.get() <= startedAtFailure.get() + 2, started.get() + " started, "
                    + startedAtFailure.get() + " when task " + failAt + " failed");
        }
    }

    @Test
    void anErrorIsRethrownAsItself() {
        AssertionError err = new AssertionError("from a task");
        AssertionError thrown = assertThrows(AssertionError.class, () -> FlushHelper.forEach(16, k -> {
            if (k == 9) {
                throw err;
            }
        }));
        assertSame(err, thrown);
    }

    private static void spin(long nanos) {
        long end = System.nanoTime() + nanos;
        while (System.nanoTime() < end) {
            Thread.onSpinWait();
        }
    }
}
