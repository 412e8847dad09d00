package dev.strata.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.strata.core.PageId;
import dev.strata.core.remote.RemoteStatus;
import java.lang.foreign.Arena;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MemoryNodeMainTest {
    @Test
    void flagsOverrideTheConfigFile(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("node.properties");
        Files.writeString(f, "strata.memory.port=7001\nstrata.memory.capacity=256MiB\nstrata.memory.io-threads=3\n");
        MemoryNodeConfig c = MemoryNodeMain.parse(new String[] {"--config", f.toString(), "--port", "7002"});
        assertEquals(7002, c.port());
        assertEquals(256L << 20, c.capacityBytes());
        assertEquals(3, c.ioThreads());
        assertEquals(1L << 30, MemoryNodeMain.parse(new String[] {"--capacity", "1G"}).capacityBytes());
        assertThrows(IllegalArgumentException.class, () -> MemoryNodeMain.parse(new String[] {"--nope"}));
        Files.writeString(f, "strata.memory.typo=1\n");
        assertThrows(IllegalArgumentException.class, () -> MemoryNodeMain.parse(new String[] {"--config", f.toString()}));
    }

    @Test
    void hugePageBackedFramesServePages() throws Exception {
        MemoryNodeConfig c = MemoryNodeMain.parse(new String[] {"--port", "0", "--capacity", "16M", "--huge-pages"});
        try (MemoryNode node = MemoryNode.start(c); MemoryNodeClient client = node.localClient()) {
            var page = Arena.global().allocate(8192);
            page.fill((byte) 7);
            assertEquals(RemoteStatus.OK, client.put(PageId.of(0, 1), 1, 4, page).join());
            var dst = Arena.global().allocate(8192);
            assertEquals(4, client.get(PageId.of(0, 1), 1, dst).join().lsn());
            assertEquals(-1, dst.mismatch(page));
        }
    }

    @Test
    void processServesAndStopsCleanlyOnSigterm() throws Exception {
        try (NodeProcess p = NodeProcess.start(0, "32M");
                MemoryNodeClient c = MemoryNodeClient.connect(new InetSocketAddress("127.0.0.1", p.port()),
                        ClientOptions.defaults().withRequestTimeout(java.time.Duration.ofSeconds(10)))) {
            var page = Arena.global().allocate(4096);
            assertEquals(RemoteStatus.OK, c.put(PageId.of(0, 1), 1, 1, page).join());
            assertEquals(143, p.terminate(20), "exit status after SIGTERM with the shutdown hook run");
        }
    }
}
