package dev.strata.compute;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StoreMetricsTest {
    @TempDir
    Path dir;

    @Test
    void metersFollowTheStoresCounters() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (PageStore store = PageStore.open(dir, PageStoreConfig.defaults().withPool(4L << 20))) {
            StoreMetrics.bind(store, registry);
            long page = store.allocate(4096);
            try (WriteBatch b = store.newBatch(); PageHandle h = store.fixExclusive(page)) {
                b.putLong(h, 0, 1);
                b.commit();
            }
            try (PageHandle h = store.fixShared(page)) {
                assertEquals(1, h.getLong(0));
            }
            assertEquals(2.0, registry.get("strata.store.commits").functionCounter().count());
            double logged = registry.get("strata.log.bytes").functionCounter().count();
            assertTrue(logged >= 8 && logged == store.stats().logBytes(), "two batches, one 8-byte delta: " + logged);
            assertEquals(store.stats().durableLsn(), registry.get("strata.log.durable.lsn").gauge().value());
            assertEquals(1.0, registry.get("strata.pool.misses").tag("partition", "0").functionCounter().count());
            assertTrue(registry.get("strata.pool.hits").tag("partition", "0").functionCounter().count() >= 1);
            assertEquals(4L << 20, registry.get("strata.pool.capacity.bytes").gauge().value());
            assertEquals(1.0, registry.get("strata.store.allocated.pages").gauge().value());
            assertEquals(4096.0, registry.get("strata.store.page.space.bytes").gauge().value());
            try (WriteBatch b = store.newBatch()) {
                b.free(page);
                b.commit();
            }
            assertEquals(0.0, registry.get("strata.store.allocated.pages").gauge().value());
            assertEquals(1.0, registry.get("strata.store.free.pages").gauge().value());
        }
        assertTrue(Double.isNaN(registry.get("strata.pool.hits").functionCounter().count()));
    }
}
