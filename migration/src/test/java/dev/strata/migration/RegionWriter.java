package dev.strata.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.strata.nbd.Backend;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * An application writer for tests: writes 4 KiB pages at random positions at a paced rate until
 * stopped or fenced, and remembers the last value each page was acknowledged with (the shadow),
 * so "no lost write" can be checked against any copy of the region.
 */
final class RegionWriter implements AutoCloseable {
    static final int PAGE = 4096;
    private final Backend target;
    private final long[] shadow;
    private final long intervalNanos;
    private final Thread thread;
    private final AtomicLong acked = new AtomicLong();
    private volatile boolean stop;
    private volatile Throwable failure;
    private volatile boolean fenced;

    RegionWriter(Backend target, int writesPerSecond, long seed) {
        this.target = target;
        this.shadow = new long[(int) (target.size() / PAGE)];
        this.intervalNanos = 1_000_000_000L / writesPerSecond;
        this.thread = Thread.ofPlatform().name("test-writer").daemon().start(() -> run(seed));
    }

    private void run(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        MemorySegment page = MemorySegment.ofArray(new long[PAGE / 8]);
        long value = seed << 32;
        long next = System.nanoTime();
        while (!stop) {
            int p = rnd.nextInt(shadow.length);
            value++;
            for (int i = 0; i < PAGE / 8; i++) {
                page.setAtIndex(ValueLayout.JAVA_LONG, i, value);
            }
            try {
                target.writeAt((long) p * PAGE, page);
            } catch (FencedException e) {
                fenced = true;
                return;
            } catch (IOException | RuntimeException e) {
                failure = e;
                return;
            }
            shadow[p] = value;
            acked.incrementAndGet();
            next += intervalNanos;
            long now = System.nanoTime();
            if (next > now) {
                LockSupport.parkNanos(next - now); // pacing the write rate
            } else if (now - next > 100_000_000L) {
                next = now; // fell behind (loaded machine): do not burst
            }
        }
    }

    long acked() {
        return acked.get();
    }

    boolean fenced() {
        return fenced;
    }

    /** Waits for the writer to end (it ends by itself when fenced). */
    void join() throws InterruptedException {
        thread.join();
        if (failure != null) {
            throw new AssertionError("writer failed", failure);
        }
    }

    /** Every acknowledged write is in {@code copy}. */
    void verify(Backend copy) throws IOException {
        MemorySegment buf = MemorySegment.ofArray(new long[PAGE / 8]);
        int checked = 0;
        for (int p = 0; p < shadow.length; p++) {
            if (shadow[p] != 0) {
                copy.readAt((long) p * PAGE, buf);
                assertEquals(shadow[p], buf.getAtIndex(ValueLayout.JAVA_LONG, 0), "page " + p);
                assertEquals(shadow[p], buf.getAtIndex(ValueLayout.JAVA_LONG, PAGE / 8 - 1), "page " + p + " tail");
                checked++;
            }
        }
        assertEquals(true, checked > 0, "writer acknowledged nothing");
    }

    @Override
    public void close() {
        stop = true;
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
