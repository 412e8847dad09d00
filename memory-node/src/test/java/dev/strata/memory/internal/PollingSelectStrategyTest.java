package dev.strata.memory.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.channel.SelectStrategy;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class PollingSelectStrategyTest {
    @Test
    void pollsAfterActivityThenBlocks() throws Exception {
        PollingSelectStrategy s = new PollingSelectStrategy(TimeUnit.MILLISECONDS.toNanos(20));
        assertEquals(3, s.calculateStrategy(() -> 3, false), "ready events are handed back to be processed");
        assertEquals(SelectStrategy.CONTINUE, s.calculateStrategy(() -> 0, false), "polls right after activity");
        assertEquals(0, s.calculateStrategy(() -> 0, true), "pending tasks run without waiting");
        Thread.sleep(40);
        assertEquals(SelectStrategy.SELECT, s.calculateStrategy(() -> 0, false), "blocks once the window has passed");
        // the next call follows a wake-up from the blocking wait: poll again for a window
        assertEquals(SelectStrategy.CONTINUE, s.calculateStrategy(() -> 0, false));
        Thread.sleep(40);
        assertEquals(SelectStrategy.SELECT, s.calculateStrategy(() -> 0, false));
    }

    @Test
    void zeroWindowIsNettysDefault() throws Exception {
        PollingSelectStrategy s = new PollingSelectStrategy(0);
        assertEquals(SelectStrategy.SELECT, s.calculateStrategy(() -> 5, false));
        assertEquals(5, s.calculateStrategy(() -> 5, true));
    }
}
