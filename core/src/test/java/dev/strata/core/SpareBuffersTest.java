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
    void keepsTheLargestBuffersItIsGivenAndFreesTheRestAtOnce() {
        SpareBuffers pool = new SpareBuffers(2, 4096, 1 << 20);
        MemorySegment a = pool.take(100);
        MemorySegment b = pool.take(10_000);
        MemorySegment c = pool.take(1);
        assertTrue(a.isNative() && b.isNative(), "off the Java heap");
        assertEquals(4096, a.byteSize(), "at least the first size");
        assertEquals(10_000, b.byteSize(), "at least what was asked");
        assertEquals(4096 + 10_000 + 4096, pool.allocatedBytes());
        pool.recycle(a);
        pool.recycle(b);
        MemorySegment d = pool.take(1); // the largest spare
        assertEquals(b.address(), d.address());
        MemorySegment big = pool.take(50_000); // a (4 KiB) grown: a is freed
        assertEquals(50_000, big.byteSize());
        assertThrows(IllegalStateException.class, () -> a.get(ValueLayout.JAVA_BYTE, 0), "a grown buffer is freed");
        pool.recycle(c);
        pool.recycle(d);
        pool.recycle(big); // the pool keeps two: the smallest (c) is freed
        assertThrows(IllegalStateException.class, () -> c.get(ValueLayout.JAVA_BYTE, 0), "the smallest is freed");
        assertEquals(10_000 + 50_000, pool.allocatedBytes(), "only the spares are left");
        assertEquals(big.address(), pool.take(1).address());
        assertEquals(d.address(), pool.take(1).address());
        assertNotEquals(d.address(), pool.take(1).address(), "nothing left: a new buffer");
    }

    @Test
    void buffersThePoolCannotKeepOrDidNotMakeAreNotKept() {
        SpareBuffers pool = new SpareBuffers(1, 4096, 64 << 10);
        MemorySegment large = pool.take(100_000);
        pool.recycle(large); // larger than the pool keeps: freed
        assertThrows(IllegalStateException.class, () -> large.get(ValueLayout.JAVA_BYTE, 0));
        assertEquals(0, pool.allocatedBytes());
        MemorySegment foreign = java.lang.foreign.Arena.ofAuto().allocate(8192);
        pool.recycle(foreign); // not this pool's: left alone, still usable
        foreign.set(ValueLayout.JAVA_BYTE, 0, (byte) 1);
        pool.recycle(MemorySegment.ofArray(new byte[8192])); // heap memory
        pool.recycle(MemorySegment.NULL);
        pool.recycle(null);
        assertEquals(4096, pool.take(1).byteSize(), "none of them was kept");
    }

    @Test
    void keepsNoMoreBytesThanItsLimitWhateverItsPlaces() {
        SpareBuffers pool = new SpareBuffers(8, 4096, 1 << 20, 3 * 4096);
        MemorySegment[] taken = new MemorySegment[5];
        for (int i = 0; i < taken.length; i++) {
            taken[i] = pool.take(1);
        }
        for (MemorySegment b : taken) {
            pool.recycle(b);
        }
        assertEquals(3 * 4096, pool.allocatedBytes(), "three kept, two freed though five places were free");
        assertThrows(IllegalStateException.class, () -> taken[4].get(ValueLayout.JAVA_BYTE, 0));
        MemorySegment a = pool.take(1);
        MemorySegment larger = pool.take(8192); // the pool's 4 KiB spare grown: it is freed
        pool.recycle(larger); // 4 + 8 KiB kept: within the limit
        pool.recycle(a); // 4 + 8 + 4 KiB would not be: freed
        assertThrows(IllegalStateException.class, () -> a.get(ValueLayout.JAVA_BYTE, 0));
        assertEquals(4096 + 8192, pool.allocatedBytes());
        assertEquals(larger.address(), pool.take(1).address(), "the largest spare first");
        assertThrows(IllegalArgumentException.class, () -> new SpareBuffers(1, 4096, 8192, -1));
    }

    @Test
    void growKeepsTheUsedBytesAndAtLeastDoubles() {
        SpareBuffers pool = new SpareBuffers(1, 4096, 1 << 20);
        MemorySegment small = pool.take(1);
        for (int i = 0; i < 4096; i++) {
            small.set(ValueLayout.JAVA_BYTE, i, (byte) i);
        }
        byte[] used = small.asSlice(0, 1000).toArray(ValueLayout.JAVA_BYTE);
        MemorySegment bigger = pool.grow(small, 1000, 5000);
        assertEquals(8192, bigger.byteSize());
        assertArrayEquals(used, bigger.asSlice(0, 1000).toArray(ValueLayout.JAVA_BYTE));
        assertEquals(0, bigger.get(ValueLayout.JAVA_BYTE, 1000), "past the used bytes: zeros");
        assertEquals(50_000, pool.grow(bigger, 0, 50_000).byteSize());
        assertEquals(50_000, pool.allocatedBytes(), "each grown buffer was freed");
    }

    @Test
    void badSizesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new SpareBuffers(-1, 4096, 8192));
        assertThrows(IllegalArgumentException.class, () -> new SpareBuffers(1, 0, 8192));
        assertThrows(IllegalArgumentException.class, () -> new SpareBuffers(1, 8192, 4096));
    }
}
