package dev.strata.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.nbd.backend.MemoryBackend;
import dev.strata.nbd.mount.ManagedMount;
import dev.strata.nbd.mount.MountConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * File and slice frontends: an export mounted with nbdfuse, mmapped and written by a separate JVM,
 * then read back through a second NBD client.
 */
@Timeout(120)
class NbdfuseMmapTest {
    private static final long SIZE = 32L << 20;
    private Path dir;
    private MemoryBackend remote;
    private ManagedMount mount;
    private NbdServer server;

    @BeforeEach
    void start() throws Exception {
        Tools.require("nbdfuse", "fusermount3");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(Path.of("/dev/fuse")), "no /dev/fuse");
        dir = Files.createTempDirectory("nbdfuse");
        remote = new MemoryBackend(SIZE);
        mount = new ManagedMount(remote, new MountConfig(256 * 1024, 2, 2, 4, 4, Duration.ofMillis(20), 4, null));
        server = NbdServer.start(0, new Export("m", "managed mount", mount, false));
    }

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.close();
        }
        if (mount != null) {
            mount.close();
        }
        if (remote != null) {
            remote.close();
        }
        Tools.deleteTree(dir);
    }

    @Test
    void separateJvmMmapsWritesMsyncsAndASecondClientReadsItBack() throws Exception {
        long off = 3 * 1024 * 1024 + 4096;
        int len = 1 << 20;
        try (NbdfuseFile f = NbdfuseFile.mount(dir.resolve("mnt"), "nbd://127.0.0.1:" + server.port() + "/m", SIZE,
                false, 1)) {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Tools.Result r = Tools.run(Duration.ofSeconds(60), java, "--enable-native-access=ALL-UNNAMED", "-cp",
                    System.getProperty("java.class.path"), MmapChild.class.getName(), f.file().toString(),
                    Long.toString(off), Integer.toString(len), "17");
            assertEquals(0, r.exit(), r.output());
            assertTrue(r.output().contains("mmap-ok"), r.output());
        }
        // a second NBD client, after nbdfuse is gone
        try (NbdClient c = NbdClient.connect("127.0.0.1", server.port(), "m")) {
            byte[] got = c.read(off, len);
            for (int i = 0; i < len; i++) {
                if (got[i] != (byte) (17 + (long) i * 31)) {
                    throw new AssertionError("byte " + i + " differs: " + got[i]);
                }
            }
            c.flush(); // and the flush barrier carries it to the remote behind the managed mount
        }
        byte[] onRemote = new byte[len];
        remote.readAt(off, java.lang.foreign.MemorySegment.ofArray(onRemote));
        assertEquals((byte) 17, onRemote[0]);
        assertEquals((byte) (17 + (long) (len - 1) * 31), onRemote[len - 1]);
    }
}
