package dev.strata.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class SpareBuffersTest {
    @Test
    void takesNewBuffersUntilOnesAreRecycledThenReusesThemUpToTheCount() {
        SpareBuffers pool = new SpareBuffers(2, 4096, 1 << 20);
        MemorySegment a = pool.take(100);
        MemorySegment b = pool.take(10_000);
        assertTrue(a.isNative() && b.isNative(), "off the Java heap");
        assertEquals(4096, a.byteSize(), "at least the first size");
        assertEquals(10_000, b.byteSize(), "at least what was asked");
        MemorySegment c = pool.take(1);
        assertNotEquals(a.address(), c.address());
        pool.recycle(a);
        pool.recycle(b);
        pool.recycle(c); // the pool keeps two: dropped
        MemorySegment again = pool.take(1);
        assertTrue(again.address() == a.address() || again.address() == b.address(), "a spare comes back");
        MemorySegment other = pool.take(1);
        assertTrue(other.address() == a.address() || other.address() == b.address());
        assertNotEquals(again.address(), other.address());
        assertNotEquals(a.address(), pool.take(1).address(), "nothing left: a new buffer");
    }

    @Test
    void aSpareTooSmallForTheAskIsGrownAndBuffersThePoolCannotUseAreDropped() {
        SpareBuffers pool = new SpareBuffers(1, 4096, 64 << 10);
        pool.recycle(pool.take(1));
        assertEquals(100_000, pool.take(100_000).byteSize(), "grown past the spare");
        pool.recycle(pool.take(100_000)); // larger than the pool keeps
        pool.recycle(MemorySegment.ofArray(new byte[8192])); // heap memory
        pool.recycle(MemorySegment.NULL);
        pool.recycle(null);
        assertEquals(4096, pool.take(1).byteSize(), "none of them was kept");
    }

    @Test
    void growKeepsTheUsedBytesAndAtLeastDoubles() {
        SpareBuffers pool = new SpareBuffers(1, 4096, 1 << 20);
        MemorySegment small = pool.take(1);
        for (int i = 0; i < 4096; i++) {
            small.set(ValueLayout.JAVA_BYTE, i, (byte) i);
        }
        MemorySegment bigger = SpareBuffers.grow(small, 1000, 5000);
        assertEquals(8192, bigger.byteSize());
        assertArrayEquals(small.asSlice(0, 1000).toArray(ValueLayout.JAVA_BYTE),
                bigger.asSlice(0, 1000).toArray(ValueLayout.JAVA_BYTE));
        assertEquals(0, bigger.get(ValueLayout.JAVA_BYTE, 1000), "past the used bytes: zeros");
        assertEquals(50_000, SpareBuffers.grow(small, 0, 50_000).byteSize());
    }

    @Test
    void badSizesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new SpareBuffers(-1, 4096, 8192));
        assertThrows(IllegalArgumentException.class, () -> new SpareBuffers(1, 0, 8192));
        assertThrows(IllegalArgumentException.class, () -> new SpareBuffers(1, 8192, 4096));
    }
}
