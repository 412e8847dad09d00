package dev.strata.buffer.internal;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongPredicate;

/**
 * Where threads wait for a contended latch. Waiters register in a stripe chosen by slot, re-check
 * the latch word and park; a latch release that changes the word wakes the stripe's waiters when
 * its waiter count is non-zero (one volatile read on the release path). Registration-then-recheck
 * against release-then-count is a Dekker pair over volatiles, so no wake-up is lost; the park is
 * also bounded as a second line of defence. {@link LockSupport#park} keeps virtual threads unpinned.
 */
public final class ParkingLot {
    private static final int STRIPES = 256;
    private static final long MAX_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(2);

    private final AtomicIntegerArray waiters = new AtomicIntegerArray(STRIPES);
    @SuppressWarnings("unchecked")
    private final ConcurrentLinkedQueue<Thread>[] queues = new ConcurrentLinkedQueue[STRIPES];

    public ParkingLot() {
        for (int i = 0; i < STRIPES; i++) {
            queues[i] = new ConcurrentLinkedQueue<>();
        }
    }

    private static int stripe(long slot) {
        return (int) ((slot * 0x9E3779B97F4A7C15L) >>> 56);
    }

    /** Parks the caller while {@code stillBlocked} holds for {@code slot}; returns on any change. */
    public void await(long slot, LongPredicate stillBlocked) {
        int s = stripe(slot);
        Thread me = Thread.currentThread();
        waiters.incrementAndGet(s);
        queues[s].add(me);
        try {
            if (stillBlocked.test(slot)) {
                LockSupport.parkNanos(this, MAX_PARK_NANOS);
            }
        } finally {
            queues[s].remove(me);
            waiters.decrementAndGet(s);
        }
    }

    /** Wakes every thread parked on {@code slot}'s stripe. */
    public void wake(long slot) {
        int s = stripe(slot);
        if (waiters.get(s) != 0) {
            for (Thread t : queues[s]) {
                LockSupport.unpark(t);
            }
        }
    }
}
