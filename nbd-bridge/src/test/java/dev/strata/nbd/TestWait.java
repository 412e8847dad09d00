package dev.strata.nbd;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Waiting on a condition with a deadline (never a bare sleep as synchronization). */
public final class TestWait {
    private TestWait() {}

    public static void until(Duration timeout, String what, BooleanSupplier condition) throws InterruptedException {
        Tools.await(timeout, what, condition);
    }
}
