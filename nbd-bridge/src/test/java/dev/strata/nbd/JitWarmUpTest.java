package dev.strata.nbd;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class JitWarmUpTest {
    @Test
    void servesLoopbackRequestsAndLeavesNothingRunning() throws Exception {
        JitWarmUp.Result r = JitWarmUp.run(200);
        assertTrue(r.requests() >= 32, "served " + r.requests() + " requests");
        // its client, server and scratch export are closed: no warm-up thread outlives the call
        boolean leftover = Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.isAlive() && t.getName().startsWith("nbd-warm-up"));
        assertTrue(!leftover, "a warm-up thread is still running");
        assertTrue(r.millis() < 10_000, "took " + r.millis() + " ms");
    }
}
