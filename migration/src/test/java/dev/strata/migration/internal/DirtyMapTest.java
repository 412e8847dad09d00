package dev.strata.migration.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DirtyMapTest {

    @Test
    void aChunkWrittenAfterItsSendIsStaleAndOneWrittenBeforeIsNot() {
        DirtyMap d = new DirtyMap(10 * 4096 + 100, 4096);
        assertEquals(11, d.chunks());
        assertEquals(100, d.length(10));
        for (int c = 0; c < d.chunks(); c++) {
            assertTrue(d.stale(c), "never sent");
        }
        d.markWritten(0, 1); // before the send
        long g = d.nextReadGen();
        d.sent(0, g);
        assertFalse(d.stale(0));
        d.markWritten(4095, 2); // after: chunks 0 and 1
        assertTrue(d.stale(0));
        assertArrayEquals(new long[] {1, 10}, d.count());
    }

    @Test
    void resumeMarksPossiblyLostSendsAsOldCopies() {
        DirtyMap d = new DirtyMap(4 * 4096, 4096);
        long g0 = d.nextReadGen();
        d.sent(0, g0);
        long g1 = d.nextReadGen();
        d.sent(1, g1);
        long g2 = d.nextReadGen();
        d.sent(2, g2);
        assertEquals(2, d.resumeFrom(g0)); // sends of 1 and 2 may be lost
        assertFalse(d.stale(1), "unwritten chunk: any copy the leecher has is current");
        d.markWritten(2 * 4096, 10);
        assertTrue(d.stale(2));
        assertTrue(d.everSent(1) && d.everSent(2) && !d.everSent(3));
        d.resetAll();
        assertFalse(d.everSent(0));
    }
}
