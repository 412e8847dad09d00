package dev.strata.memory;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Waits on a condition with a deadline (never a bare sleep as synchronization). */
final class Conditions {
    private Conditions() {}

    static void await(Duration limit, String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        long pause = 1;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out after " + limit + " waiting for " + what);
            }
            Thread.sleep(pause);
            pause = Math.min(pause * 2, 20);
        }
    }
}
