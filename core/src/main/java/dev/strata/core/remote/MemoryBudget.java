package dev.strata.core.remote;

import java.util.concurrent.atomic.AtomicLong;

/** A capacity bound shared by everything that allocates on one node. Thread-safe (lock-free). */
public final class MemoryBudget {
    private final long limit;
    private final AtomicLong used = new AtomicLong();

    public MemoryBudget(long limit) {
        if (limit <= 0) {
            throw new IllegalArgumentException("budget must be positive: " + limit);
        }
        this.limit = limit;
    }

    /** Takes {@code bytes} from the budget if they fit; false (nothing taken) when they do not. */
    public boolean tryReserve(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative reservation: " + bytes);
        }
        while (true) {
            long u = used.get();
            if (bytes > limit - u) {
                return false;
            }
            if (used.compareAndSet(u, u + bytes)) {
                return true;
            }
        }
    }

    public void release(long bytes) {
        long after = used.addAndGet(-bytes);
        if (after < 0) {
            throw new IllegalStateException("budget released more than reserved (" + after + ")");
        }
    }

    public long used() {
        return used.get();
    }

    public long limit() {
        return limit;
    }
}
