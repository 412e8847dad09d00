package dev.strata.migration.uffd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class ChunkTableTest {

    @Test
    void claimStopsAtTheFirstChunkNotAbsent() throws Exception {
        ChunkTable t = new ChunkTable(10, Long.MAX_VALUE, (f, n) -> { });
        assertEquals(3, t.claim(2, 3));
        assertEquals(0, t.claim(3, 5));
        assertEquals(2, t.claim(0, 8)); // stops at chunk 2, being filled
        assertEquals(ChunkTable.FILLING, t.state(4));
        t.complete(2, 3);
        assertEquals(ChunkTable.PRESENT, t.state(4));
        assertEquals(5, t.counted());
        assertEquals(5, t.claim(5, 100)); // the end of the table
    }

    @Test
    void evictsTheOldestPresentRunBeforeAClaimWouldPassTheCap() throws Exception {
        List<int[]> punched = new ArrayList<>();
        ChunkTable t = new ChunkTable(100, 8, (f, n) -> punched.add(new int[] {f, n}));
        assertEquals(4, t.claim(0, 4));
        t.complete(0, 4);
        assertEquals(4, t.claim(10, 4));
        t.complete(10, 4);
        assertEquals(8, t.counted());
        assertEquals(2, t.claim(20, 2)); // the oldest run (0..3) goes first, whole
        assertEquals(1, punched.size());
        assertEquals(0, punched.get(0)[0]);
        assertEquals(4, punched.get(0)[1]);
        assertEquals(ChunkTable.ABSENT, t.state(0));
        assertEquals(6, t.counted());
        assertEquals(8, t.peak());
    }

    @Test
    void aClaimLargerThanTheRoomLeftWaitsForFillsInFlight() throws Exception {
        ChunkTable t = new ChunkTable(100, 4, (f, n) -> { });
        assertEquals(4, t.claim(0, 4)); // all in flight, nothing evictable
        AtomicLong got = new AtomicLong(-1);
        Thread waiter = Thread.ofPlatform().start(() -> {
            try {
                got.set(t.claim(50, 2));
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        waiter.join(300);
        assertTrue(waiter.isAlive(), "claimed past the cap");
        t.complete(0, 4);
        waiter.join();
        assertEquals(2, got.get());
        assertTrue(t.peak() <= 4);
    }

    @Test
    void aPresentChunkFoundMissingIsReclaimedStillCounted() throws Exception {
        ChunkTable t = new ChunkTable(4, Long.MAX_VALUE, (f, n) -> { });
        t.claim(1, 1);
        t.complete(1, 1);
        assertFalse(t.reclaimIfMissing(1, c -> true));
        assertTrue(t.reclaimIfMissing(1, c -> false));
        assertEquals(ChunkTable.FILLING, t.state(1));
        assertEquals(1, t.counted());
        t.abort(1, 1);
        assertEquals(ChunkTable.ABSENT, t.state(1));
        assertEquals(0, t.counted());
    }

    @Test
    void concurrentFillersNeverHoldMoreThanTheCapAndPunchOnlyPresentChunks() throws Exception {
        int chunks = 512;
        long cap = 40;
        byte[] mirror = new byte[chunks]; // what the "memory" holds: 1 filled, 0 punched
        AtomicLong held = new AtomicLong();
        AtomicLong maxHeld = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        ChunkTable[] ref = new ChunkTable[1];
        ChunkTable t = new ChunkTable(chunks, cap, (f, n) -> {
            for (int c = f; c < f + n; c++) {
                if (ref[0].state(c) == ChunkTable.ABSENT) { // lock is reentrant: punch runs under it
                    // PRESENT (eviction) or FILLING (an aborted fill, punched by its owner)
                    failure.compareAndSet(null, new AssertionError("punched chunk " + c + " ABSENT"));
                }
                synchronized (mirror) {
                    if (mirror[c] == 1) {
                        mirror[c] = 0;
                        held.decrementAndGet();
                    }
                }
            }
        });
        ref[0] = t;
        Thread[] fillers = new Thread[4];
        for (int i = 0; i < fillers.length; i++) {
            int id = i;
            fillers[i] = Thread.ofPlatform().start(() -> {
                SplittableRandom rnd = new SplittableRandom(id);
                try {
                    for (int k = 0; k < 5000; k++) {
                        int first = rnd.nextInt(chunks);
                        int n = t.claim(first, 1 + rnd.nextInt(16));
                        if (n == 0) {
                            if (rnd.nextInt(8) == 0) {
                                t.evict(first, 4);
                            }
                            continue;
                        }
                        synchronized (mirror) { // "copy" the run in
                            for (int c = first; c < first + n; c++) {
                                mirror[c] = 1;
                            }
                            maxHeld.accumulateAndGet(held.addAndGet(n), Math::max);
                        }
                        if (rnd.nextInt(10) == 0) {
                            t.abort(first, n); // punches what was copied in
                        } else {
                            t.complete(first, n);
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            });
        }
        for (Thread f : fillers) {
            f.join();
        }
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
        assertTrue(maxHeld.get() <= cap, "held " + maxHeld.get());
        assertTrue(t.peak() <= cap, "counted " + t.peak());
        assertEquals(held.get(), t.counted(), "table and memory disagree");
        assertTrue(t.evicted() > 0);
    }
}
