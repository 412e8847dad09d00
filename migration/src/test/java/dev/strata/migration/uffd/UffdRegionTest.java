package dev.strata.migration.uffd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.core.remote.RemoteRegion;
import dev.strata.memory.ClientOptions;
import dev.strata.memory.MemoryNodeClient;
import dev.strata.memory.MemoryNodeMain;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Remote Strata memory mapped into this process through userfaultfd: a memory node region
 * ({@code memnode://}) and a Strata partition served over NBD by another process ({@code nbd://}).
 * Each server runs in its own process (DESIGN §8: nothing the fault handler depends on may live in
 * the JVM that touches the mapping), ended by PID.
 */
@Timeout(180)
class UffdRegionTest {
    private static final long SIZE = 48L << 20;

    @Test
    void aMemoryNodeRegionReadsBackThroughTheMappingWithResidencyCapped() throws Exception {
        Process node = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xmx128m", "-cp", System.getProperty("java.class.path"),
                MemoryNodeMain.class.getName(), "--port", "0", "--capacity", "128M", "--poll-us", "0")
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(node.getInputStream()))) {
            int port = -1;
            for (String line; port < 0 && (line = out.readLine()) != null; ) {
                if (line.startsWith("memory-node listening on ")) {
                    port = Integer.parseInt(line.substring(line.lastIndexOf(':') + 1).trim());
                }
            }
            assertTrue(port > 0, "memory node process did not start");
            byte[] data = new byte[(int) SIZE];
            new SplittableRandom(5).nextBytes(data);
            long key;
            try (MemoryNodeClient c = MemoryNodeClient.connect(new InetSocketAddress("127.0.0.1", port),
                    ClientOptions.defaults().withRequestTimeout(Duration.ofSeconds(10)))) {
                RemoteRegion r = c.allocateRegion(SIZE).join();
                key = r.key();
                for (int off = 0; off < SIZE; off += 1 << 20) {
                    c.write(key, off, MemorySegment.ofArray(data).asSlice(off, 1 << 20)).join();
                }
            }
            String spec = "memnode://127.0.0.1:" + port + "/" + Long.toUnsignedString(key) + "?size=" + SIZE;
            long cap = 16L << 20;
            try (UffdMapping m = UffdMapping.open(spec, SIZE, 2, 4 << 20, cap);
                    ResidencySampler sampler = new ResidencySampler(m)) {
                assertTrue(m.helperPid() != ProcessHandle.current().pid());
                MemorySegment seg = m.segment();
                byte[] buf = new byte[1 << 20];
                CRC32C want = new CRC32C();
                CRC32C got = new CRC32C();
                for (int off = 0; off < SIZE; off += buf.length) {
                    MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, off, buf, 0, buf.length);
                    got.update(buf);
                    want.update(data, off, buf.length);
                    sampler.sample(true);
                }
                assertEquals(want.getValue(), got.getValue(), "sequential read differs from the region");
                // random pages, most of them evicted by now, fault in again with the node's bytes
                SplittableRandom rnd = new SplittableRandom(9);
                for (int i = 0; i < 500; i++) {
                    long page = rnd.nextLong(SIZE / 4096) * 4096;
                    long v = seg.get(ValueLayout.JAVA_LONG_UNALIGNED, page + 8);
                    long w = MemorySegment.ofArray(data).get(ValueLayout.JAVA_LONG_UNALIGNED, page + 8);
                    assertEquals(w, v, "page at " + page);
                }
                sampler.sample(true);
                assertTrue(sampler.peak() <= cap, "peak resident " + sampler.peak() + " > cap " + cap);
            }
        } finally {
            node.destroy();
            if (!node.waitFor(30, TimeUnit.SECONDS)) {
                node.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void aStrataPartitionServedByAnotherProcessReadsBackThroughTheMapping(@org.junit.jupiter.api.io.TempDir Path dir)
            throws Exception {
        long size = 32L << 20;
        Process server = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                dev.strata.nbd.NbdCommands.class.getName(), "serve", "--backend", "partition:" + dir + "?size=" + size
                        + "&pool=16M", "--port", "0")
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(server.getInputStream()))) {
            String url = null;
            for (String line; url == null && (line = out.readLine()) != null; ) {
                if (line.startsWith("nbd://")) {
                    url = line.trim();
                }
            }
            assertTrue(url != null, "NBD server process did not start");
            byte[] data = new byte[(int) size];
            new SplittableRandom(6).nextBytes(data);
            try (dev.strata.nbd.Backend b = dev.strata.nbd.Backends.open(url, false)) {
                assertEquals(size, b.size());
                b.writeAt(0, MemorySegment.ofArray(data));
                b.sync(); // committed to the partition's log
            }
            try (UffdMapping m = UffdMapping.open(url, size, 2, 4 << 20)) {
                MemorySegment seg = m.segment();
                byte[] back = new byte[(int) size];
                MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, 0, back, 0, back.length);
                assertTrue(java.util.Arrays.equals(data, back), "mapping differs from the partition");
            }
        } finally {
            server.destroy();
            if (!server.waitFor(30, TimeUnit.SECONDS)) {
                server.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
        }
    }
}
