package dev.strata.migration.internal;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Admits application writes to the seeder's backend, and lets finalize suspend them, wait for
 * in-flight ones to drain, and then either resume them (roll back) or fence them for good.
 *
 * <pre>
 *   OPEN ──suspend──► SUSPENDED ──fence──► FENCED (terminal: every write refused)
 *    ▲                    │
 *    └──────resume────────┘
 * </pre>
 * The fast path of {@link #enter()} is one atomic increment and one volatile read (a Dekker pair
 * with {@link #suspend}); the lock is taken only while suspended. Thread-safe.
 */
public final class WriteGate {
    public enum State { OPEN, SUSPENDED, FENCED }

    private final AtomicInteger inFlight = new AtomicInteger();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private volatile State state = State.OPEN;
    private volatile long fencedEpoch;

    /** Thrown by {@link #enter()} once fenced. */
    public static final class Fenced extends Exception {
        private final long epoch;

        Fenced(long epoch) {
            super(null, null, false, false);
            this.epoch = epoch;
        }

        public long epoch() {
            return epoch;
        }
    }

    public State state() {
        return state;
    }

    public long fencedEpoch() {
        return fencedEpoch;
    }

    /** Admits one write; blocks while suspended; throws once fenced. Pair with {@link #exit()}. */
    public void enter() throws Fenced, InterruptedException {
        while (true) {
            inFlight.incrementAndGet();
            State s = state;
            if (s == State.OPEN) {
                return;
            }
            exit();
            if (s == State.FENCED) {
                throw new Fenced(fencedEpoch);
            }
            lock.lockInterruptibly();
            try {
                while (state == State.SUSPENDED) {
                    changed.await();
                }
            } finally {
                lock.unlock();
            }
        }
    }

    public void exit() {
        if (inFlight.decrementAndGet() == 0 && state != State.OPEN) {
            lock.lock();
            try {
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * Stops admitting writes and waits until those in flight finish. Returns false (and stays
     * suspended) if they did not drain within {@code timeout}.
     */
    public boolean suspend(Duration timeout) throws InterruptedException {
        if (state == State.FENCED) {
            return true;
        }
        state = State.SUSPENDED;
        long deadline = System.nanoTime() + timeout.toNanos();
        lock.lock();
        try {
            while (inFlight.get() != 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                changed.await(left, TimeUnit.NANOSECONDS);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Rolls a suspension back: writes flow again. No effect once fenced. */
    public void resume() {
        lock.lock();
        try {
            if (state == State.SUSPENDED) {
                state = State.OPEN;
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Refuses every write from now on, including those waiting in a suspension. */
    public void fence(long epoch) {
        lock.lock();
        try {
            fencedEpoch = epoch;
            state = State.FENCED;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
