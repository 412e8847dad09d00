package dev.strata.memory.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.channel.SelectStrategy;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class PollingSelectStrategyTest {
    @Test
    void pollsAfterActivityThenBlocks() throws Exception {
        PollingSelectStrategy s = new PollingSelectStrategy(TimeUnit.MILLISECONDS.toNanos(500)); // wide: a loaded box may stall a thread between calls
        assertEquals(3, s.calculateStrategy(() -> 3, false), "ready events are handed back to be processed");
        assertEquals(SelectStrategy.CONTINUE, s.calculateStrategy(() -> 0, false), "polls right after activity");
        assertEquals(0, s.calculateStrategy(() -> 0, true), "pending tasks run without waiting");
        Thread.sleep(700);
        assertEquals(SelectStrategy.SELECT, s.calculateStrategy(() -> 0, false), "blocks once the window has passed");
        // the next call follows a wake-up from the blocking wait: poll again for a window
        assertEquals(SelectStrategy.CONTINUE, s.calculateStrategy(() -> 0, false));
        Thread.sleep(700);
        assertEquals(SelectStrategy.SELECT, s.calculateStrategy(() -> 0, false));
    }

    @Test
    void repeatedEmptyWindowsPausePolling() throws Exception {
        PollingSelectStrategy s = new PollingSelectStrategy(TimeUnit.MICROSECONDS.toNanos(200));
        assertEquals(1, s.calculateStrategy(() -> 1, false));
        for (int i = 0; i < PollBudget.MISSES_TO_PAUSE; i++) {
            int r;
            do {
                r = s.calculateStrategy(() -> 0, false);
            } while (r == SelectStrategy.CONTINUE);
            assertEquals(SelectStrategy.SELECT, r);
        }
        // paused: after a wake-up the loop blocks again at once instead of polling
        assertEquals(SelectStrategy.SELECT, s.calculateStrategy(() -> 0, false));
        Thread.sleep(TimeUnit.NANOSECONDS.toMillis(PollBudget.PAUSE_NANOS) + 5);
        assertEquals(SelectStrategy.CONTINUE, s.calculateStrategy(() -> 0, false), "polls again after the pause");
    }

    @Test
    void zeroWindowIsNettysDefault() throws Exception {
        PollingSelectStrategy s = new PollingSelectStrategy(0);
        assertEquals(SelectStrategy.SELECT, s.calculateStrategy(() -> 5, false));
        assertEquals(5, s.calculateStrategy(() -> 5, true));
    }
}
