package dev.strata.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.strata.core.PageId;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

class MemoryNodeMetricsTest {
    @Test
    void countersFollowTheNode() throws Exception {
        try (MemoryNode node = MemoryNode.start(MemoryNodeConfig.defaults().withPort(0).withCapacity(8L << 20).withIoThreads(1));
                MemoryNodeClient c = node.localClient()) {
            SimpleMeterRegistry reg = new SimpleMeterRegistry();
            MemoryNodeMetrics.bind(node, reg);
            var page = Arena.global().allocate(4096);
            c.put(PageId.of(1, 1), 1, 1, page).join();
            c.put(PageId.of(1, 1), 0, 1, page).join(); // epoch 0 below the 1 already seen: fenced
            c.get(PageId.of(1, 1), 0, page).join();
            c.get(PageId.of(1, 2), 0, page).join();
            String port = Integer.toString(node.port());
            assertEquals(1.0, reg.get("strata.memory.requests").tags("node", port, "op", "put").functionCounter().count());
            assertEquals(1.0, reg.get("strata.memory.requests").tags("node", port, "op", "stale-epoch").functionCounter().count());
            assertEquals(2.0, reg.get("strata.memory.requests").tags("node", port, "op", "get").functionCounter().count());
            assertEquals(1.0, reg.get("strata.memory.requests").tags("node", port, "op", "hit").functionCounter().count());
            assertEquals(1.0, reg.get("strata.memory.pages").gauge().value());
            assertEquals(4096.0, reg.get("strata.memory.used.bytes").gauge().value());
        }
    }
}
