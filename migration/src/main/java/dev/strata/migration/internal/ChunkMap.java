package dev.strata.migration.internal;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The leecher's record of which chunks it holds, with striped per-chunk locks (an arriving chunk
 * and a local write to the same chunk never interleave) and a condition to wait for arrivals.
 * Thread-safe.
 */
public final class ChunkMap {
    private static final int STRIPES = 256;
    private final int chunks;
    private final AtomicLongArray bits;
    private final AtomicLong present = new AtomicLong();
    private final ReentrantLock[] stripes = new ReentrantLock[STRIPES];
    private final ReentrantLock arrivals = new ReentrantLock();
    private final Condition arrived = arrivals.newCondition();
    private volatile int waiters;

    public ChunkMap(int chunks) {
        this.chunks = chunks;
        this.bits = new AtomicLongArray((chunks + 63) / 64);
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new ReentrantLock();
        }
    }

    public int chunks() {
        return chunks;
    }

    public boolean present(int c) {
        return (bits.get(c >>> 6) & (1L << c)) != 0;
    }

    public long presentCount() {
        return present.get();
    }

    public long missing() {
        return chunks - present.get();
    }

    /** The lock of chunk {@code c}'s stripe. */
    public ReentrantLock lock(int c) {
        return stripes[c & (STRIPES - 1)];
    }

    /** Marks {@code c} present (caller holds its lock) and wakes waiters. */
    public void setPresent(int c) {
        long bit = 1L << c;
        long prev = bits.getAndUpdate(c >>> 6, w -> w | bit);
        if ((prev & bit) == 0) {
            present.incrementAndGet();
            if (waiters > 0) {
                arrivals.lock();
                try {
                    arrived.signalAll();
                } finally {
                    arrivals.unlock();
                }
            }
        }
    }

    /** Waits up to {@code timeout} for {@code c} to arrive; returns whether it is present. */
    public boolean await(int c, Duration timeout) throws InterruptedException {
        if (present(c)) {
            return true;
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        arrivals.lock();
        try {
            waiters++;
            while (!present(c)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                arrived.await(left, TimeUnit.NANOSECONDS);
            }
            return true;
        } finally {
            waiters--;
            arrivals.unlock();
        }
    }

    /** The first missing chunk at or after {@code from}, or -1. */
    public int nextMissing(int from) {
        for (int c = from; c < chunks; c++) {
            long w = bits.get(c >>> 6);
            if (w == -1L) {
                c |= 63;
                continue;
            }
            if ((w & (1L << c)) == 0) {
                return c;
            }
        }
        return -1;
    }
}
