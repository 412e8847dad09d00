package dev.strata.memory.internal;

import io.netty.channel.SelectStrategy;
import io.netty.util.IntSupplier;

/**
 * Spin-then-block I/O wait for one event loop: after any wake-up or ready event the loop keeps
 * polling epoll without sleeping ({@code epoll_wait} with a zero timeout) for {@code pollNanos};
 * only a loop that saw nothing for that long blocks in the kernel. A request that arrives within the
 * window is picked up without the scheduler wake-up a sleeping thread pays (several µs, the largest
 * part of a loopback round trip), and an idle loop costs no CPU once the window has passed. Polling
 * yields the core on each turn and pauses after repeated empty windows ({@link PollBudget}). With
 * {@code pollNanos == 0} this is Netty's default strategy. One instance per event loop: the state is
 * touched by that loop's thread only.
 */
final class PollingSelectStrategy implements SelectStrategy {
    private final PollBudget budget;
    private final boolean off;
    private long windowEnd;
    private boolean polling;
    private boolean blocked;

    PollingSelectStrategy(long pollNanos) {
        this.budget = new PollBudget(pollNanos);
        this.off = pollNanos == 0;
    }

    @Override
    public int calculateStrategy(IntSupplier selectNow, boolean hasTasks) throws Exception {
        if (off) {
            return hasTasks ? selectNow.get() : SELECT;
        }
        long now = System.nanoTime();
        if (blocked) {
            blocked = false; // woken by I/O, a task or a timer: poll for a while
            open(now);
        }
        int ready = selectNow.get();
        if (ready > 0) {
            if (polling) {
                budget.hit();
            }
            open(now);
            return ready;
        }
        if (hasTasks) {
            return 0;
        }
        if (polling && now - windowEnd < 0) {
            PollBudget.spin();
            return CONTINUE;
        }
        if (polling) {
            budget.miss(now);
        }
        polling = false;
        blocked = true;
        return SELECT;
    }

    private void open(long now) {
        windowEnd = budget.windowEnd(now);
        polling = windowEnd != now;
    }
}
