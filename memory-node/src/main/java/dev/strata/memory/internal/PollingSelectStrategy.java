package dev.strata.memory.internal;

import io.netty.channel.SelectStrategy;
import io.netty.util.IntSupplier;

/**
 * Spin-then-block I/O wait for one event loop: after any wake-up or ready event the loop keeps
 * polling epoll without sleeping ({@code epoll_wait} with a zero timeout) for {@code pollNanos};
 * only a loop that saw nothing for that long blocks in the kernel. A request that arrives within the
 * window is picked up without the scheduler wake-up a sleeping thread pays (several µs, the largest
 * part of a loopback round trip), and an idle loop costs no CPU once the window has passed. With
 * {@code pollNanos == 0} this is Netty's default strategy. One instance per event loop: the state is
 * touched by that loop's thread only.
 */
final class PollingSelectStrategy implements SelectStrategy {
    private final long pollNanos;
    private long activeAt;
    private boolean blocked;

    PollingSelectStrategy(long pollNanos) {
        this.pollNanos = pollNanos;
    }

    @Override
    public int calculateStrategy(IntSupplier selectNow, boolean hasTasks) throws Exception {
        if (pollNanos == 0) {
            return hasTasks ? selectNow.get() : SELECT;
        }
        long now = System.nanoTime();
        if (blocked) {
            blocked = false; // we were woken: by I/O, a task or a timer; poll for a while
            activeAt = now;
        }
        int ready = selectNow.get();
        if (ready > 0) {
            activeAt = now;
            return ready;
        }
        if (hasTasks) {
            return 0;
        }
        if (now - activeAt < pollNanos) {
            Thread.onSpinWait();
            return CONTINUE;
        }
        blocked = true;
        return SELECT;
    }
}
