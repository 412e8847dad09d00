package dev.strata.buffer.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PageTableTest {
    @Test
    void stateAndVersionPackIntoOneWord() {
        long w = PageTable.word(PageTable.LOCKED, PageTable.VERSION_MASK);
        assertEquals(PageTable.LOCKED, PageTable.state(w));
        assertEquals(PageTable.VERSION_MASK, PageTable.version(w));
        long wrapped = PageTable.word(PageTable.UNLOCKED, PageTable.VERSION_MASK + 1);
        assertEquals(PageTable.UNLOCKED, PageTable.state(wrapped), "a version overflow never leaks into the state");
        assertEquals(0, PageTable.version(wrapped));
        assertTrue(PageTable.UNLOCKED + PageTable.MAX_SHARED < PageTable.MARKED, "shared counts stay below MARKED");
    }

    @Test
    void entriesStartEvictedCleanAndUnpinned() {
        try (PageTable t = new PageTable(1 << 20)) {
            for (long s : new long[] {0, 1, 4095, (1 << 20) - 1}) {
                assertEquals(PageTable.EVICTED, PageTable.state(t.load(s)));
                assertEquals(0, t.recLsn(s));
                assertEquals(0, t.pins(s));
                assertEquals(0, t.sizeClass(s));
            }
        }
    }

    @Test
    void casAndFieldsAreIndependentPerSlot() {
        try (PageTable t = new PageTable(16)) {
            long w = t.load(3);
            assertTrue(t.cas(3, w, PageTable.word(PageTable.LOCKED, 9)));
            assertFalse(t.cas(3, w, PageTable.word(PageTable.UNLOCKED, 9)), "stale expectation");
            assertEquals(PageTable.EVICTED, PageTable.state(t.load(2)));
            assertEquals(PageTable.EVICTED, PageTable.state(t.load(4)));
            t.sizeClass(3, 6);
            assertEquals(2, t.addPins(3, 2));
            assertEquals(6, t.sizeClass(3));
            assertEquals(PageTable.LOCKED, PageTable.state(t.load(3)), "fields beside the word do not touch it");
            assertEquals(0, t.pins(4));
        }
    }

    @Test
    void noteCommittedKeepsTheNewestPageLsnAndTheOldestRecLsn() {
        try (PageTable t = new PageTable(4)) {
            t.noteCommitted(1, 10);
            t.noteCommitted(1, 7); // an older commit reported late
            t.noteCommitted(1, 12);
            assertEquals(12, t.pageLsn(1));
            assertEquals(7, t.recLsn(1), "recLsn is the oldest committed change not yet written back");
            t.recLsn(1, 0);
            t.noteCommitted(1, 15);
            assertEquals(15, t.recLsn(1));
        }
    }
}
