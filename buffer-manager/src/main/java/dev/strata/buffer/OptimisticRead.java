package dev.strata.buffer;

import java.lang.foreign.MemorySegment;

/**
 * A read of a page under an optimistic latch. It may see bytes changing underneath it and must
 * not act on them: the pool validates the page version afterwards and re-runs the read when it
 * changed. Anything thrown from a read that fails validation (exceptions and errors alike) is
 * discarded and the read retried.
 */
@FunctionalInterface
public interface OptimisticRead<R> {
    R read(MemorySegment page);
}
