package dev.strata.nbd.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.strata.compute.PageStore;
import dev.strata.compute.PageStoreConfig;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PartitionBackendTest {
    /** NBD clients send writes up to 32 MiB; a batch pins its pages until it commits, so one batch per write would not fit. */
    @Test
    void aWriteLargerThanThePoolSucceedsAndSurvivesReopen(@TempDir Path dir) throws Exception {
        long size = 48L << 20;
        byte[] data = new byte[(int) size - 4096];
        new SplittableRandom(1).nextBytes(data);
        PageStoreConfig config = PageStoreConfig.defaults().withPool(16L << 20).withCapacity(128L << 20);
        try (PartitionBackend b = new PartitionBackend(PageStore.open(dir, config), size)) {
            b.writeAt(4096, MemorySegment.ofArray(data));
            b.sync();
        }
        try (PartitionBackend b = new PartitionBackend(PageStore.open(dir, config), size)) {
            byte[] back = new byte[data.length];
            b.readAt(4096, MemorySegment.ofArray(back));
            assertArrayEquals(data, back);
        }
    }
}
