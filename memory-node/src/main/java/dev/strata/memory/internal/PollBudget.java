package dev.strata.memory.internal;

import java.util.concurrent.TimeUnit;

/**
 * When to poll before sleeping, for one thread. A poll window opens on activity and lasts
 * {@code pollNanos}; a window that ends with nothing arriving is a miss. After {@link #MISSES_TO_PAUSE}
 * misses in a row polling pauses for {@link #PAUSE_NANOS}: on an oversubscribed machine the peer
 * we poll for may be waiting for the very core we spin on, and polling then only adds latency.
 * Pollers also yield the core on every turn ({@link #spin}) for the same reason. Not thread-safe:
 * one instance per polling thread (or per connection used by one thread at a time).
 */
final class PollBudget {
    static final int MISSES_TO_PAUSE = 8;
    static final long PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    private final long pollNanos;
    private int misses;
    private long pausedUntil;

    PollBudget(long pollNanos) {
        this.pollNanos = pollNanos;
    }

    /** The end of a window opening at {@code now}, or {@code now} itself when polling is off or paused. */
    long windowEnd(long now) {
        return pollNanos == 0 || now - pausedUntil < 0 ? now : now + pollNanos;
    }

    /** Something arrived while polling. */
    void hit() {
        misses = 0;
    }

    /** A window ended with nothing. */
    void miss(long now) {
        if (++misses >= MISSES_TO_PAUSE) {
            misses = 0;
            pausedUntil = now + PAUSE_NANOS;
        }
    }

    /** One turn of a poll loop: let any other runnable thread on this core go first. */
    static void spin() {
        Thread.yield();
    }
}
