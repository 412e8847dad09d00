package dev.strata.storage.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class ThreadBufferTest {
    @Test
    void keepsItsBufferWhileLargeEnoughAndDoublesPastIt() {
        ThreadBuffer b = new ThreadBuffer(1 << 16, 4096);
        MemorySegment first = b.atLeast(100);
        assertEquals(1 << 16, first.byteSize());
        assertEquals(0, first.address() % 4096);
        assertSame(first, b.atLeast(1 << 16));
        MemorySegment doubled = b.atLeast((1 << 16) + 1);
        assertEquals(1 << 17, doubled.byteSize(), "twice the outgrown size");
        MemorySegment large = b.atLeast(5L << 20);
        assertEquals(5L << 20, large.byteSize(), "the size asked for, when more than twice the outgrown one");
        large.set(ValueLayout.JAVA_BYTE, large.byteSize() - 1, (byte) 7);
        assertEquals(7, b.atLeast(1).get(ValueLayout.JAVA_BYTE, large.byteSize() - 1));
    }

    @Test
    void freesAnOutgrownBufferAtOnce() {
        ThreadBuffer b = new ThreadBuffer(1 << 20, 4096);
        MemorySegment old = b.atLeast(1 << 20);
        old.set(ValueLayout.JAVA_BYTE, 0, (byte) 1);
        b.atLeast(3 << 20);
        // an automatic arena's buffer would still be readable here, its memory held until a collection
        assertThrows(IllegalStateException.class, () -> old.get(ValueLayout.JAVA_BYTE, 0));
        assertTrue(b.atLeast(1).byteSize() >= 3 << 20);
    }

    @Test
    void refusesBadSizes() {
        assertThrows(IllegalArgumentException.class, () -> new ThreadBuffer(0, 4096));
        assertThrows(IllegalArgumentException.class, () -> new ThreadBuffer(4096, 3000));
    }
}
