package dev.strata.migration.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class WriteGateTest {

    @Test
    void suspendWaitsForInFlightWritesThenBlocksNewOnesUntilResume() throws Exception {
        WriteGate g = new WriteGate();
        g.enter(); // one write in flight
        assertFalse(g.suspend(Duration.ofMillis(20)), "suspend must wait for the in-flight write");
        g.exit();
        assertTrue(g.suspend(Duration.ofSeconds(10)));
        CountDownLatch entered = new CountDownLatch(1);
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                g.enter();
                g.exit();
                entered.countDown();
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        assertFalse(entered.await(50, TimeUnit.MILLISECONDS), "a write got through a suspension");
        g.resume();
        assertTrue(entered.await(30, TimeUnit.SECONDS));
        t.join();
    }

    @Test
    void fenceRefusesWaitingAndLaterWrites() throws Exception {
        WriteGate g = new WriteGate();
        assertTrue(g.suspend(Duration.ofSeconds(10)));
        AtomicReference<Throwable> waiting = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(1);
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                g.enter();
            } catch (Throwable e) {
                waiting.set(e);
            }
            done.countDown();
        });
        g.fence(5);
        assertTrue(done.await(30, TimeUnit.SECONDS));
        t.join();
        assertTrue(waiting.get() instanceof WriteGate.Fenced);
        WriteGate.Fenced f = assertThrows(WriteGate.Fenced.class, g::enter);
        assertEquals(5, f.epoch());
        g.resume(); // no effect once fenced
        assertThrows(WriteGate.Fenced.class, g::enter);
    }

    @Test
    void noWriteIsInsideTheGateWhileSuspended() throws Exception {
        WriteGate g = new WriteGate();
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger violations = new AtomicInteger();
        Thread[] writers = new Thread[3];
        for (int i = 0; i < writers.length; i++) {
            writers[i] = Thread.ofPlatform().start(() -> {
                try {
                    while (true) {
                        g.enter();
                        inside.incrementAndGet();
                        inside.decrementAndGet();
                        g.exit();
                    }
                } catch (WriteGate.Fenced e) {
                    // done
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
            });
        }
        for (int round = 0; round < 200; round++) {
            assertTrue(g.suspend(Duration.ofSeconds(30)));
            if (inside.get() != 0) {
                violations.incrementAndGet();
            }
            g.resume();
        }
        g.fence(2);
        for (Thread w : writers) {
            w.join();
        }
        assertEquals(0, violations.get());
    }
}
