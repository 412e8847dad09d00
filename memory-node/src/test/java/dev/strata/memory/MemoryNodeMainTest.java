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
        assertEquals(50, c.pollMicros(), "default poll window");
        assertEquals(0, MemoryNodeMain.parse(new String[] {"--poll-us", "0"}).pollMicros());
        assertThrows(IllegalArgumentException.class, () -> MemoryNodeMain.parse(new String[] {"--poll-us", "-1"}));
        Files.writeString(f, "strata.memory.poll-us=200\n");
        assertEquals(200, MemoryNodeMain.parse(new String[] {"--config", f.toString()}).pollMicros());
        Files.writeString(f, "strata.memory.typo=1\n");
        assertThrows(IllegalArgumentException.class, () -> MemoryNodeMain.parse(new String[] {"--config", f.toString()}));
    }

    /** The poll window must end: an idle node's I/O threads sleep, they do not spin. */
    @Test
    void idleNodeDoesNotSpin() throws Exception {
        MemoryNodeConfig c = MemoryNodeMain.parse(new String[] {"--port", "0", "--capacity", "16M", "--poll-us", "1000"});
        try (MemoryNode node = MemoryNode.start(c);
                MemoryNodeClient client = MemoryNodeClient.connect(new InetSocketAddress("127.0.0.1", node.port()),
                        ClientOptions.defaults().withRequestTimeout(java.time.Duration.ofSeconds(10)))) {
            var page = Arena.global().allocate(4096);
            for (int i = 0; i < 200; i++) {
                assertEquals(RemoteStatus.OK, client.put(PageId.of(0, i), 1, 1, page).join());
            }
            Thread.sleep(100); // past the window
            var mx = java.lang.management.ManagementFactory.getThreadMXBean();
            long[] ids = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().startsWith("memory-node-io") || t.getName().startsWith("memory-client-io"))
                    .mapToLong(Thread::threadId).toArray();
            org.junit.jupiter.api.Assertions.assertTrue(ids.length >= 2, "found the node's and the client's I/O threads");
            long before = 0;
            for (long id : ids) {
                before += mx.getThreadCpuTime(id);
            }
            Thread.sleep(1000);
            long after = 0;
            for (long id : ids) {
                after += mx.getThreadCpuTime(id);
            }
            long spentMs = (after - before) / 1_000_000;
            org.junit.jupiter.api.Assertions.assertTrue(spentMs < 100,
                    "idle I/O threads used " + spentMs + " ms of CPU in 1 s");
        }
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
