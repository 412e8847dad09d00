package dev.strata.migration.uffd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.core.ByteSize;
import dev.strata.nbd.Backend;
import dev.strata.nbd.Backends;
import dev.strata.testkit.S3TestServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * An object in an S3-compatible server (s3proxy, in its own process: see {@link S3ServerMain}) mapped through userfaultfd, read end
 * to end with residency capped at 64 MiB: the peak of the memory the mapping holds (the pages of its
 * memory file, by fstat, sampled on a thread of its own and after every MiB read) must not exceed it. Size: {@code -Dstrata.uffd.s3.size} (default 1G, as
 * s3proxy's transient store holds the object in the server process's heap, sized for it).
 * Tagged slow: excluded by default, run with {@code -Dmigration.excludedGroups=none}.
 */
@Tag("slow")
@Timeout(600)
class UffdS3Test {

    @Test
    void anS3ObjectReadsBackCorrectlyWithResidencyCapped() throws Exception {
        long size = ByteSize.parse(System.getProperty("strata.uffd.s3.size", "1G"));
        long cap = 64L << 20;
        Process server = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx" + Math.max(1024, 3 * (size >> 20) + 512) + "m", "-cp", System.getProperty("java.class.path"), S3ServerMain.class.getName(), "uffd")
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(server.getInputStream()))) {
            String endpoint = null;
            for (String line; endpoint == null && (line = out.readLine()) != null; ) {
                if (line.startsWith("ENDPOINT ")) {
                    endpoint = line.substring(9);
                }
            }
            assertTrue(endpoint != null, "S3 server process did not start");
            String spec = "s3://uffd/object?endpoint=" + endpoint + "&access=" + S3TestServer.ACCESS_KEY
                    + "&secret=" + S3TestServer.SECRET_KEY + "&size=" + size + "&chunk=1M";
            CRC32C expected = new CRC32C();
            byte[] buf = new byte[1 << 20];
            try (Backend b = Backends.open(spec, false)) {
                SplittableRandom rnd = new SplittableRandom(11);
                for (long off = 0; off < size; off += buf.length) {
                    rnd.nextBytes(buf);
                    b.writeAt(off, MemorySegment.ofArray(buf));
                    expected.update(buf);
                }
                b.sync();
            }
            try (UffdMapping m = UffdMapping.open(spec, size, 4, 4 << 20, cap);
                 ResidencySampler sampler = new ResidencySampler(m)) {
                MemorySegment seg = m.segment();
                CRC32C got = new CRC32C();
                long t0 = System.nanoTime();
                for (long off = 0; off < size; off += buf.length) {
                    MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, off, buf, 0, buf.length);
                    got.update(buf);
                    sampler.sample((off & ((8 << 20) - 1)) == 0);
                }
                double secs = (System.nanoTime() - t0) / 1e9;
                long peak = sampler.peak();
                System.out.printf("uffd over S3: %d MiB in %.1f s (%.0f MB/s), peak resident %d KiB (cap %d KiB, %d samples; mincore scans peaked at %d KiB)%n",
                        size >> 20, secs, size / secs / 1e6, peak >> 10, cap >> 10, sampler.samples(),
                        sampler.peakByMincore() >> 10);
                assertEquals(expected.getValue(), got.getValue(), "content differs");
                assertTrue(peak <= cap, "peak resident " + peak + " > cap " + cap);
            }
        } finally {
            server.getOutputStream().close();
            if (!server.waitFor(30, TimeUnit.SECONDS)) {
                server.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
        }
    }
}
