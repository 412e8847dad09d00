package dev.strata.buffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.core.PageSize;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Randomized multi-thread stress of latches, optimistic reads and eviction with dirty write-back.
 * Every page holds one value in all its words: a per-page counter that writers increment under the
 * exclusive latch, recording it in a model array while still holding the latch. Readers check that
 * a page is never torn and never older than the model said before the read started. Seed and
 * minimum duration: -Dstrata.stress.seed, -Dstrata.stress.millis (it runs longer, up to a minute, on
 * a machine too loaded to do a minimum of each kind of work in that time).
 */
class BufferPoolStressTest {
    static final long POOL = 4L << 20; // 1024 slots
    static final long SPACE = 32L << 20;
    static final int MIN_OPS = 2000; // of each kind, however loaded the machine
    static final int PAGES = 2048; // page i starts at slot 4 i; every third page is 16 KiB: ~4096 slots of data

    final MemoryPageSource src = new MemoryPageSource();
    BufferPool pool;

    @AfterEach
    void close() {
        if (pool != null && !Deadline.anyHung()) {
            pool.close();
        }
    }

    static long pageNo(int i) {
        return 4L * i;
    }

    static int sizeClassOf(int i) {
        return i % 3 == 0 ? 2 : 0;
    }

    static void fill(MemorySegment seg, long value) {
        for (long off = 0; off < seg.byteSize(); off += 8) {
            seg.set(ValueLayout.JAVA_LONG, off, value);
        }
    }

    /** The page's value, or -1 - (offset of the first differing word) when torn. */
    static long uniformValue(MemorySegment seg) {
        long v = seg.get(ValueLayout.JAVA_LONG, 0);
        for (long off = 8; off < seg.byteSize(); off += 8) {
            if (seg.get(ValueLayout.JAVA_LONG, off) != v) {
                return -1 - off;
            }
        }
        return v;
    }

    @Test
    void concurrentWritersReadersAndEvictionKeepEveryPageConsistent() throws Exception {
        long seed = Long.getLong("strata.stress.seed", System.nanoTime());
        long millis = Long.getLong("strata.stress.millis", 5000);
        System.out.println("BufferPoolStressTest seed=" + seed + " (-Dstrata.stress.seed=" + seed + ")");
        pool = BufferPool.create(new BufferPoolConfig(POOL, SPACE, 32), src);
        for (int i = 0; i < PAGES; i++) {
            pool.defineSizeClass(pageNo(i), sizeClassOf(i));
        }
        AtomicLongArray model = new AtomicLongArray(PAGES);
        AtomicLong lsn = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        LongAdder writes = new LongAdder();
        LongAdder optimisticReads = new LongAdder();
        LongAdder optimisticAttempts = new LongAdder();
        LongAdder sharedReads = new LongAdder();
        LongAdder checkpoints = new LongAdder();
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();

        // 2 writers, 2 optimistic readers, 1 shared reader, 1 checkpointer/optimistic reader
        for (int t = 0; t < 6; t++) {
            final int role = t;
            final SplittableRandom rnd = new SplittableRandom(seed * 31 + t);
            // the shared reader and the checkpointer run on virtual threads: latches must work there too
            Thread.Builder builder = role >= 4 ? Thread.ofVirtual() : Thread.ofPlatform();
            threads.add(builder.name("stress-" + t).start(() -> {
                try {
                    start.await();
                    while (!stop.get() && failure.get() == null) {
                        // skewed choice: a hot eighth of the pages gets half the traffic
                        int i = rnd.nextBoolean() ? rnd.nextInt(PAGES / 8) : rnd.nextInt(PAGES);
                        long p = pageNo(i);
                        switch (role) {
                            case 0, 1 -> { // writers: plain markDirty, or pinned batch + noteCommitted
                                boolean pinned = rnd.nextInt(4) == 0;
                                if (pinned) {
                                    pool.pin(p);
                                }
                                try (var g = pool.fixExclusive(p)) {
                                    long v = uniformValue(g.segment());
                                    assertEquals(model.get(i), v, "page " + i + " under the exclusive latch");
                                    fill(g.segment(), v + 1);
                                    model.set(i, v + 1);
                                    if (!pinned) {
                                        pool.markDirty(p);
                                    }
                                }
                                if (pinned) { // the batch commits after the latch is gone; no-steal keeps it
                                    for (int k = 0; k < 4; k++) { // misses (and evictions) before the commit
                                        int j = rnd.nextInt(PAGES);
                                        if (j != i) {
                                            try (var g = pool.fixShared(pageNo(j))) {
                                                assertEquals(model.get(j), uniformValue(g.segment()), "page " + j);
                                            }
                                        }
                                    }
                                    pool.noteCommitted(p, lsn.incrementAndGet());
                                    pool.unpin(p);
                                }
                                writes.increment();
                            }
                            case 2, 3 -> {
                                long before = model.get(i);
                                long[] attempts = {0};
                                long v = pool.readOptimistic(p, seg -> {
                                    attempts[0]++;
                                    return uniformValue(seg);
                                });
                                long after = model.get(i);
                                assertTrue(v >= 0, "optimistic read of page " + i + " validated a torn page: " + v);
                                assertTrue(v >= before && v <= after,
                                        "page " + i + " read " + v + " outside [" + before + ", " + after + "]");
                                optimisticReads.increment();
                                optimisticAttempts.add(attempts[0]);
                            }
                            case 4 -> {
                                try (var g = pool.fixShared(p)) {
                                    long v = uniformValue(g.segment());
                                    assertEquals(model.get(i), v, "page " + i + " under a shared latch");
                                    assertEquals(PageSize.bytes(sizeClassOf(i)), g.segment().byteSize());
                                }
                                sharedReads.increment();
                            }
                            default -> {
                                if (rnd.nextInt(200) == 0) {
                                    pool.writeBackDirty();
                                    checkpoints.increment();
                                } else {
                                    long before = model.get(i);
                                    long v = pool.readOptimistic(p, BufferPoolStressTest::uniformValue);
                                    assertTrue(v >= before, "page " + i + " went back from " + before + " to " + v);
                                }
                            }
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }));
        }
        start.countDown();
        // Run for the given time, and on a machine too loaded to do the minimum work in it, longer
        // (up to a cap): the invariants are only worth something once eviction churned for a while.
        long t0 = System.nanoTime();
        long minimum = t0 + TimeUnit.MILLISECONDS.toNanos(millis);
        long cap = t0 + TimeUnit.MILLISECONDS.toNanos(Math.max(millis, 60_000));
        while (failure.get() == null) {
            long now = System.nanoTime();
            boolean enough = writes.sum() >= MIN_OPS && optimisticReads.sum() >= MIN_OPS
                    && sharedReads.sum() >= MIN_OPS / 4 && pool.stats().evictions() >= MIN_OPS;
            if (now >= cap || (now >= minimum && enough)) {
                break;
            }
            synchronized (stop) {
                stop.wait(50); // a timed wait for the run's end, not synchronization between workers
            }
        }
        stop.set(true);
        for (Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(30));
            assertFalse(t.isAlive(), t.getName() + " is stuck: " + stackOf(t));
        }
        if (failure.get() != null) {
            throw new AssertionError("seed " + seed + ": " + failure.get(), failure.get());
        }
        PoolStats s = pool.stats();
        System.out.printf("stress: %d writes, %d optimistic reads (%d attempts), %d shared reads, %d checkpoints, %s%n",
                writes.sum(), optimisticReads.sum(), optimisticAttempts.sum(), sharedReads.sum(), checkpoints.sum(), s);
        assertTrue(s.evictions() >= MIN_OPS, "eviction must run constantly: " + s);
        assertTrue(s.writeBacks() >= MIN_OPS / 10, "dirty pages must be written back: " + s);
        assertTrue(writes.sum() >= MIN_OPS && optimisticReads.sum() >= MIN_OPS && sharedReads.sum() >= MIN_OPS / 4,
                "too little work even in the capped time");
        assertTrue(pool.residentBytes() <= POOL, "resident " + pool.residentBytes());

        for (int i = 0; i < PAGES; i++) {
            try (var g = pool.fixShared(pageNo(i))) {
                assertEquals(model.get(i), uniformValue(g.segment()), "seed " + seed + ": final content of page " + i);
            }
        }
        assertEquals(0, countPinned(), "every pin was released");
        pool.writeBackDirty();
        assertEquals(0, pool.dirtyPages());
        for (int i = 0; i < PAGES; i++) {
            if (model.get(i) != 0) {
                assertEquals(model.get(i), src.storedLong(pageNo(i)), "seed " + seed + ": page " + i + " in the next tier");
            }
        }
    }

    private long countPinned() {
        long n = 0;
        for (int i = 0; i < PAGES; i++) {
            n += pool.pins(pageNo(i));
        }
        return n;
    }

    private static String stackOf(Thread t) {
        StringBuilder b = new StringBuilder();
        for (StackTraceElement e : t.getStackTrace()) {
            b.append("\n  at ").append(e);
        }
        return b.toString();
    }

    /** An optimistic read overlapping the page's eviction sees zeros, fails validation and runs again. */
    @Test
    void optimisticReadOfAPageEvictedMeanwhileRestarts() {
        pool = BufferPool.create(BufferPoolConfig.of(POOL, SPACE), src);
        long p = 8;
        try (var g = pool.fixExclusive(p)) {
            fill(g.segment(), 1234);
            pool.markDirty(p);
        }
        AtomicInteger calls = new AtomicInteger();
        List<Long> seen = new ArrayList<>();
        long v = pool.readOptimistic(p, seg -> {
            if (calls.incrementAndGet() == 1) {
                evictAllBut(-1); // the page goes while we read it
            }
            long u = uniformValue(seg);
            seen.add(u);
            return u;
        });
        assertEquals(1234, v);
        assertEquals(2, calls.get(), "the read ran again after validation failed");
        assertEquals(List.of(0L, 1234L), seen, "the first run saw the zeros of the evicted page");

        // the same through the explicit protocol
        long w = pool.optimisticVersion(p);
        evictAllBut(-1);
        assertEquals(0, uniformValue(pool.page(p)), "evicted memory reads as zeros, without a fault");
        assertFalse(pool.validate(p, w), "validation fails after an eviction");
        long w2 = pool.optimisticVersion(p); // reloads
        assertEquals(1234, uniformValue(pool.page(p)));
        assertTrue(pool.validate(p, w2));
    }

    private void evictAllBut(long keep) {
        long slots = POOL / PageSize.BASE;
        for (long q = 4096; q < 4096 + 3 * slots; q++) {
            if (q != keep) {
                try (var g = pool.fixShared(q)) {
                    assertEquals(0L, g.segment().get(ValueLayout.JAVA_LONG, 0));
                }
            }
        }
    }
}
