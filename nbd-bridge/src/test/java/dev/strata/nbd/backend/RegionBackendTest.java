package dev.strata.nbd.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.memory.MemoryNode;
import dev.strata.memory.MemoryNodeConfig;
import dev.strata.nbd.Backend;
import dev.strata.nbd.Backends;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** A memory node region as a backend ({@code memnode://}), over a real node on loopback TCP. */
class RegionBackendTest {
    static MemoryNode node;

    @BeforeAll
    static void startNode() throws Exception {
        node = MemoryNode.start(MemoryNodeConfig.defaults().withPort(0).withCapacity(64L << 20).withPollMicros(0));
    }

    @AfterAll
    static void stopNode() {
        node.close();
    }

    static String spec(String rest) {
        return "memnode://127.0.0.1:" + node.port() + rest;
    }

    @Nested
    class Contract extends BackendContract {
        @Override
        Backend open() throws Exception {
            return Backends.open(spec("?size=" + SIZE), false);
        }
    }

    @Test
    void attachByKeySeesTheSameBytesAndTransfersSpanSeveralFrames() throws Exception {
        byte[] data = new byte[3 << 20 | 12345]; // > MAX_TRANSFER: several one-sided operations
        new Random(7).nextBytes(data);
        try (RegionBackend owner = (RegionBackend) Backends.open(spec("?size=8M"), false)) {
            owner.writeAt(777, MemorySegment.ofArray(data));
            owner.sync();
            try (Backend attached = Backends.open(spec("/" + Long.toUnsignedString(owner.key()) + "?size=8M"), true);
                    Arena confined = Arena.ofConfined()) {
                assertEquals(8L << 20, attached.size());
                MemorySegment dst = confined.allocate(data.length); // confined to this thread: bounced
                attached.readAt(777, dst);
                assertArrayEquals(data, dst.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                byte[] heap = new byte[1000];
                attached.readAt(777 + data.length - 500, MemorySegment.ofArray(heap));
                assertArrayEquals(java.util.Arrays.copyOfRange(data, data.length - 500, data.length),
                        java.util.Arrays.copyOf(heap, 500));
                assertArrayEquals(new byte[500], java.util.Arrays.copyOfRange(heap, 500, 1000));
            }
        }
    }

    @Test
    void badSpecsAndRangesGetClearErrors() throws Exception {
        IllegalArgumentException noSize = assertThrows(IllegalArgumentException.class, () -> Backends.open(spec(""), false));
        assertTrue(noSize.getMessage().contains("size="), noSize.getMessage());
        IllegalArgumentException notAKey = assertThrows(IllegalArgumentException.class, () -> Backends.open(spec("/abc?size=1M"), false));
        assertTrue(notAKey.getMessage().contains("decimal number: abc"), notAKey.getMessage());
        IOException badKey = assertThrows(IOException.class, () -> Backends.open(spec("/12345?size=1M"), false));
        assertTrue(badKey.getMessage().contains("region 12345"), badKey.getMessage());
        IOException full = assertThrows(IOException.class, () -> Backends.open(spec("?size=1G"), false));
        assertTrue(full.getMessage().contains("FULL"), full.getMessage());
        long key;
        try (RegionBackend b = (RegionBackend) Backends.open(spec("?size=1M"), false)) {
            key = b.key();
            IOException tooLong = assertThrows(IOException.class,
                    () -> Backends.open(spec("/" + Long.toUnsignedString(b.key()) + "?size=2M"), false));
            assertTrue(tooLong.getMessage().contains("OUT_OF_RANGE") || tooLong.getMessage().contains("range"), tooLong.getMessage());
            IOException outside = assertThrows(IOException.class, () -> b.readAt((1 << 20) - 10, MemorySegment.ofArray(new byte[20])));
            assertTrue(outside.getMessage().contains("outside"), outside.getMessage());
        }
        // the region this backend allocated is freed when it closes
        assertThrows(IOException.class, () -> Backends.open(spec("/" + Long.toUnsignedString(key) + "?size=1M"), false));
    }
}
