package dev.strata.nbd.mount;

import java.util.Arrays;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongPredicate;

/**
 * The background pull order of a managed mount: chunks sorted once by the priority function
 * (highest first, stable), consumed through a shared cursor, with a deque of boosted chunks in front
 * (the chunks after a recent demand miss, re-prioritised at run time). Thread-safe (Mpmc).
 */
final class PullOrder {
    private final long[] order;
    private final AtomicLong cursor = new AtomicLong();
    private final ConcurrentLinkedDeque<Long> boosted = new ConcurrentLinkedDeque<>();

    PullOrder(long chunks, MountConfig.PullPriority priority) {
        double[] p = new double[(int) chunks];
        Integer[] idx = new Integer[(int) chunks];
        for (int i = 0; i < chunks; i++) {
            p[i] = priority.of(i);
            idx[i] = i;
        }
        Arrays.sort(idx, (x, y) -> Double.compare(p[y], p[x]));
        order = new long[(int) chunks];
        for (int i = 0; i < chunks; i++) {
            order[i] = idx[i];
        }
    }

    /** Puts {@code chunk} at the very front (callers boost the farthest chunk first). */
    void boost(long chunk) {
        boosted.addFirst(chunk);
    }

    /** Queues a chunk whose pull failed behind the boosted ones. */
    void retryLater(long chunk) {
        boosted.addLast(chunk);
    }

    /**
     * The next chunk that still {@code needsPull}: boosted chunks first, then priority order; -1 when
     * none. {@code needsPull} is asked once per candidate and may take the chunk (a pull worker claims
     * it there); the chunk it accepts is the one returned.
     */
    long next(LongPredicate needsPull) {
        Long b;
        while ((b = boosted.pollFirst()) != null) {
            if (needsPull.test(b)) {
                return b;
            }
        }
        long i;
        while ((i = cursor.getAndIncrement()) < order.length) {
            long c = order[(int) i];
            if (needsPull.test(c)) {
                return c;
            }
        }
        return -1;
    }
}
