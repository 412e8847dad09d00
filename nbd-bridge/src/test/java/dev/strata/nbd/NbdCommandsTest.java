package dev.strata.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.nbd.mount.MountConfig;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The CLI entry points: serve, list, mount (direct and managed) with backend specs. */
@Timeout(90)
class NbdCommandsTest {
    private Path tmp;

    @BeforeEach
    void setUp() throws Exception {
        tmp = Files.createTempDirectory("nbd-cmd");
    }

    @AfterEach
    void tearDown() throws Exception {
        Tools.deleteTree(tmp);
    }

    @Test
    void serveADirectoryBackendAndListIt() throws Exception {
        String spec = "dir:" + tmp.resolve("chunks") + "?size=8M&chunk=256K";
        try (NbdCommands.Served s = NbdCommands.serve(new NbdCommands.ServeOptions(spec, "127.0.0.1", 0, "vol",
                false, null, null, false))) {
            assertEquals(1, NbdCommands.list("127.0.0.1", s.server().port()).size());
            assertTrue(NbdCommands.list("127.0.0.1", s.server().port()).get(0).startsWith("vol"));
            try (NbdClient c = NbdClient.connect("127.0.0.1", s.server().port(), "vol")) {
                assertEquals(8 << 20, c.size());
                c.write(300_000, new byte[] {9, 8, 7}, true);
            }
        }
        try (Backend reopened = Backends.open(spec, true)) {
            byte[] b = new byte[3];
            reopened.readAt(300_000, MemorySegment.ofArray(b));
            assertArrayEquals(new byte[] {9, 8, 7}, b);
        }
    }

    @Test
    void managedMountOfADirectoryBackendReachesTheRemoteOnUnmount() throws Exception {
        Tools.require("nbdfuse", "fusermount3");
        String spec = "dir:" + tmp.resolve("remote") + "?size=16M&chunk=1M";
        byte[] data = new byte[3 << 20];
        new java.util.Random(5).nextBytes(data);
        MountConfig cfg = new MountConfig(1 << 20, 2, 2, 4, 4, Duration.ofSeconds(30), 4, null);
        try (NbdCommands.Mounted m = NbdCommands.mount(spec, tmp.resolve("mnt"), true, cfg, false)) {
            try (FileChannel ch = FileChannel.open(m.file(), StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(data), 5_000_000);
                ch.force(false); // fsync -> NBD FLUSH -> barrier: pushed to the directory
            }
            assertEquals(0, m.managed().stats().dirty());
            assertTrue(m.managed().stats().pushedBytes() >= data.length);
        }
        try (Backend reopened = Backends.open(spec, true)) {
            byte[] b = new byte[data.length];
            reopened.readAt(5_000_000, MemorySegment.ofArray(b));
            assertArrayEquals(data, b);
        }
    }

    @Test
    void directMountReadsAndWritesTheBackend() throws Exception {
        Tools.require("nbdfuse", "fusermount3");
        Path img = tmp.resolve("disk.img");
        String spec = "file:" + img + ":4M";
        try (NbdCommands.Mounted m = NbdCommands.mount(spec, tmp.resolve("mnt"), false, MountConfig.defaults(), false)) {
            assertEquals(4 << 20, Files.size(m.file()));
            try (FileChannel ch = FileChannel.open(m.file(), StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap("hello".getBytes()), 4096);
                ch.force(false);
            }
        }
        byte[] b = new byte[5];
        try (FileChannel ch = FileChannel.open(img)) {
            ch.read(ByteBuffer.wrap(b), 4096);
        }
        assertEquals("hello", new String(b));
    }
}
