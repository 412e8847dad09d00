package dev.strata.index;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.compute.PageStore;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IndexDemoTest {
    @TempDir
    Path dir;

    @Test
    void demoLoadsReadsAndScansWithProgress() {
        try (PageStore store = PageStore.open(dir, IndexModelTest.config(32L << 20))) {
            AtomicLong progress = new AtomicLong();
            AtomicLong progressWhenLoaded = new AtomicLong(-1);
            IndexDemo.Figures f = IndexDemo.run(store, 50_000, progress::set,
                    () -> assertEquals(-1, progressWhenLoaded.getAndSet(progress.get()), "loaded runs once"));
            assertEquals(50_000, progress.get());
            assertEquals(50_000, progressWhenLoaded.get(), "the load was complete when loaded ran");
            assertEquals(50_000, f.keys());
            assertTrue(f.loadPerSecond() > 0 && f.pointReadsPerSecond() > 0 && f.scanPerSecond() > 0, f.toString());
            Index idx = Index.open(store, "demo");
            idx.checkInvariants();
            long n = 0;
            for (var it = idx.scan(null, null); it.hasNext(); it.next()) {
                n++;
            }
            assertEquals(50_000, n);
            assertTrue(f.height() >= 2, f.toString());
            assertEquals(50_000, f.shape().records() + f.shape().bufferedMessages(), f.toString());
            assertTrue(f.shape().leaves() > 1 && f.shape().leafFill() > 0.5, f.toString());
        }
    }
}
