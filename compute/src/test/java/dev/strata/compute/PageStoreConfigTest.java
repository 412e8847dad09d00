package dev.strata.compute;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PageStoreConfigTest {
    private static final long MIB = 1L << 20;

    @Test
    void theDefaultCheckpointIntervalIsFourTimesThePoolBetween256MiBAnd1GiB() {
        PageStoreConfig d = PageStoreConfig.defaults();
        assertEquals(0, d.checkpointLogBytes(), "the default is auto");
        assertEquals(1024 * MIB, d.effectiveCheckpointLogBytes(), "default 256 MiB pool");
        assertEquals(256 * MIB, d.withPool(16 * MIB).effectiveCheckpointLogBytes(), "small pools get the floor");
        assertEquals(256 * MIB, d.withPool(64 * MIB).effectiveCheckpointLogBytes());
        assertEquals(400 * MIB, d.withPool(100 * MIB).effectiveCheckpointLogBytes());
        assertEquals(1024 * MIB, d.withPool(277 * MIB).effectiveCheckpointLogBytes(), "large pools get the cap");
        assertEquals(1024 * MIB, d.withPool(1L << 40).effectiveCheckpointLogBytes());
        assertTrue(d.withPool(100 * MIB).toString().contains("checkpoint-log-bytes=auto (400.0 MiB)"),
                d.withPool(100 * MIB).toString());
    }

    @Test
    void anExplicitCheckpointIntervalIsKeptWhateverThePool() {
        PageStoreConfig c = PageStoreConfig.defaults().withCheckpointLogBytes(3 * MIB);
        assertEquals(3 * MIB, c.effectiveCheckpointLogBytes());
        assertEquals(3 * MIB, c.withPool(1L << 30).effectiveCheckpointLogBytes());
        assertEquals(8L << 30, c.withCheckpointLogBytes(8L << 30).effectiveCheckpointLogBytes());
        assertTrue(c.toString().contains("checkpoint-log-bytes=3.0 MiB"), c.toString());
    }

    @Test
    void aCheckpointIntervalBelow1MiBOrNegativeIsRefusedWithItsValue() {
        PageStoreConfig d = PageStoreConfig.defaults();
        IllegalArgumentException small = assertThrows(IllegalArgumentException.class,
                () -> d.withCheckpointLogBytes(512 * 1024));
        assertTrue(small.getMessage().contains("0 (auto) or at least 1 MiB"), small.getMessage());
        IllegalArgumentException negative = assertThrows(IllegalArgumentException.class,
                () -> d.withCheckpointLogBytes(-5));
        assertTrue(negative.getMessage().contains("-5 bytes"), negative.getMessage());
    }
}
