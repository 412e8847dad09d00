package dev.strata.compute;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.memory.MemoryNode;
import dev.strata.memory.MemoryNodeConfig;
import dev.strata.memory.RemoteTier;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedded store with two memory nodes (real TCP on loopback) in front of its page file. */
class MemoryNodeTierTest {
    @TempDir
    Path dir;

    @Test
    void missesAreServedFromMemoryNodesAndDataSurvivesReopen() throws Exception {
        MemoryNodeConfig nodeConfig = MemoryNodeConfig.defaults().withPort(0).withCapacity(64L << 20);
        try (MemoryNode a = MemoryNode.start(nodeConfig); MemoryNode b = MemoryNode.start(nodeConfig)) {
            List<InetSocketAddress> nodes = List.of(new InetSocketAddress("127.0.0.1", a.port()),
                    new InetSocketAddress("127.0.0.1", b.port()));
            PageStoreConfig config = PageStoreConfig.defaults().withPool(4L << 20).withCapacity(256L << 20)
                    .withCheckpointInterval(Duration.ZERO).withMemoryNodes(nodes, 2);
            int pages = 3000; // 12 MiB through a 4 MiB pool: evictions write back to the nodes
            List<Long> ids = new ArrayList<>();
            try (PageStore store = PageStore.open(dir, config)) {
                for (int i = 0; i < pages; i += 500) {
                    try (WriteBatch batch = store.newBatch()) {
                        for (int k = 0; k < 500; k++) {
                            long id = batch.allocate(4096);
                            ids.add(id);
                            try (PageHandle h = store.fixExclusive(id)) {
                                batch.putLong(h, 8, id * 31);
                            }
                        }
                        batch.commit();
                    }
                }
                for (long id : ids) {
                    assertEquals(id * 31, (long) store.readOptimistic(id, s -> s.get(ValueLayout.JAVA_LONG_UNALIGNED, 8)));
                }
                var stats = ((RemoteTier) store.tier()).stats();
                assertTrue(stats.memoryHits() + stats.prefetchHits() > 0, "misses served by memory nodes: " + stats);
                assertTrue(store.stats().pool().evictions() > 0);
            }
            try (PageStore store = PageStore.open(dir, config)) {
                for (long id : ids) {
                    try (PageHandle h = store.fixShared(id)) {
                        assertEquals(id * 31, h.getLong(8));
                    }
                }
            }
        }
    }
}
