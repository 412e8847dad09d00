package dev.strata.buffer.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ResidentSetTest {
    static Set<Long> contents(ResidentSet set) {
        Set<Long> s = new HashSet<>();
        set.forEach(s::add);
        return s;
    }

    @Test
    void sizesTheTableAtLeastOneAndAHalfTimesThePool() {
        for (long n : new long[] {1, 42, 43, 64, 1000, 1024, 16384, 100_000}) {
            ResidentSet set = new ResidentSet(n);
            assertTrue(set.capacity() >= n + n / 2, n + " -> " + set.capacity());
            assertEquals(1, Integer.bitCount(set.capacity()));
        }
    }

    @Test
    void rejectsAPoolTooLargeForOneTableClearly() {
        var e = assertThrows(IllegalArgumentException.class, () -> new ResidentSet(1L << 30));
        assertTrue(e.getMessage().contains("resident"), e.getMessage());
    }

    @Test
    void insertsRemovesAndReusesTombstonesWithoutLosingPages() {
        ResidentSet set = new ResidentSet(1000);
        SplittableRandom rnd = new SplittableRandom(7);
        Set<Long> model = new HashSet<>();
        List<Long> present = new ArrayList<>();
        for (int step = 0; step < 200_000; step++) {
            if (present.size() < 1000 && (present.isEmpty() || rnd.nextBoolean())) {
                long p = rnd.nextLong(1L << 40);
                if (model.add(p)) {
                    set.insert(p);
                    present.add(p);
                }
            } else {
                long p = present.remove(rnd.nextInt(present.size()));
                assertTrue(set.remove(p), "page " + p + " was present");
                model.remove(p);
                assertFalse(set.remove(p), "removed twice");
            }
        }
        assertEquals(model, contents(set));
    }

    @Test
    void clockVisitsEveryResidentPageOncePerRevolution() {
        ResidentSet set = new ResidentSet(500);
        for (long p = 0; p < 500; p++) {
            set.insert(p * 3);
        }
        List<Long> seen = new ArrayList<>();
        for (int k = 0; k < set.capacity() / 64; k++) {
            set.clockBatch(64, seen::add);
        }
        assertEquals(500, seen.size());
        assertEquals(contents(set), new HashSet<>(seen));
    }

    @Test
    void concurrentInsertsAndRemovesKeepTheSetExact() throws Exception {
        ResidentSet set = new ResidentSet(4000);
        Set<Long> expected = ConcurrentHashMap.newKeySet();
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            final long base = (long) t << 32;
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                List<Long> mine = new ArrayList<>();
                SplittableRandom rnd = new SplittableRandom(base);
                for (int i = 0; i < 50_000; i++) {
                    if (mine.size() < 1000 && (mine.isEmpty() || rnd.nextBoolean())) {
                        long p = base + i;
                        set.insert(p);
                        mine.add(p);
                    } else if (!set.remove(mine.remove(rnd.nextInt(mine.size())))) {
                        throw new AssertionError("a present page was not found");
                    }
                }
                expected.addAll(mine);
            }));
        }
        go.countDown();
        for (Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(30));
            assertFalse(t.isAlive());
        }
        assertEquals(expected, contents(set));
    }
}
