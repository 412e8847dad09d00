package dev.strata.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.strata.nbd.backend.MemoryBackend;
import dev.strata.nbd.internal.NbdIoctl;
import dev.strata.nbd.internal.Proto;
import dev.strata.nbd.mount.MountConfig;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code /dev/nbdX} frontend: the kernel nbd client connected by ioctl through FFM. The device
 * test runs only where a usable {@code /dev/nbdN} exists (kernel nbd module loaded, root); elsewhere
 * it is skipped with the reason. The error paths run everywhere.
 */
@Timeout(60)
class NbdDeviceTest {
    private static final boolean NO_MODULE =
            !Files.exists(NbdDevice.FIRST) && !Files.exists(Path.of("/sys/module/nbd"));

    @Test
    void kernelClientReadsAndWritesTheExportThroughDevNbd() throws Exception {
        String why = NbdDevice.unavailableReason(NbdDevice.FIRST);
        assumeTrue(why == null, "skipped: " + why);
        Path dev = NbdDevice.firstUsable();
        byte[] data = new byte[1 << 20];
        new Random(3).nextBytes(data);
        try (MemoryBackend disk = new MemoryBackend(64 << 20);
             NbdServer server = NbdServer.start(0, new Export("d", "", disk, false))) {
            byte[] fromServer = new byte[8192];
            new Random(4).nextBytes(fromServer);
            disk.writeAt(40 << 20, MemorySegment.ofArray(fromServer));
            try (NbdDevice d = NbdDevice.connect(dev, "127.0.0.1", server.port(), "d")) {
                assertEquals(64 << 20, d.size());
                Path pid = Path.of("/sys/block", dev.getFileName().toString(), "pid");
                assertTrue(Files.exists(pid), "sysfs shows the device connected");
                try (FileChannel ch = FileChannel.open(dev, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                    ch.write(ByteBuffer.wrap(data), 1 << 20);
                    ch.force(false); // fsync -> the kernel sends WRITE and FLUSH to the server
                    ByteBuffer back = ByteBuffer.allocate(fromServer.length);
                    ch.read(back, 40 << 20); // never cached: comes from the server
                    assertArrayEquals(fromServer, back.array());
                }
                byte[] onServer = new byte[data.length];
                disk.readAt(1 << 20, MemorySegment.ofArray(onServer));
                assertArrayEquals(data, onServer);
            }
            assertFalse(Files.exists(Path.of("/sys/block", dev.getFileName().toString(), "pid")),
                    "disconnected on close");
        }
    }

    /** The parts of the device path that run without a device: raw socket, handshake on it, ioctl errors. */
    @Test
    void handshakeOnARawSocketAndIoctlErrorsRunWithoutADevice(@TempDir Path dir) throws Exception {
        try (MemoryBackend disk = new MemoryBackend(12 << 20);
             NbdServer server = NbdServer.start(0, new Export("d", "", disk, true))) {
            int sock = NbdIoctl.connectTcp(java.net.InetAddress.getLoopbackAddress(), server.port());
            try {
                NbdClient.Agreed a = NbdClient.handshake(NbdIoctl.inputStream(sock), NbdIoctl.outputStream(sock), "d");
                assertEquals(12 << 20, a.size());
                assertTrue((a.transmissionFlags() & Proto.TFLAG_READ_ONLY) != 0, "read-only export flag");
                assertTrue((a.transmissionFlags() & Proto.TFLAG_SEND_FLUSH) != 0, "flush flag");
            } finally {
                NbdIoctl.close(sock);
            }
        }
        int fd = NbdIoctl.openReadWrite(Files.createFile(dir.resolve("plain")).toString());
        try {
            IOException e = assertThrows(IOException.class,
                    () -> NbdIoctl.ioctl(fd, NbdIoctl.NBD_SET_BLKSIZE, 4096, "NBD_SET_BLKSIZE"));
            assertTrue(e.getMessage().startsWith("ioctl NBD_SET_BLKSIZE failed: ") && e.getMessage().contains("errno 25"),
                    e.getMessage()); // ENOTTY: a regular file has no NBD ioctls
        } finally {
            NbdIoctl.close(fd);
        }
        IOException missing = assertThrows(IOException.class, () -> NbdIoctl.openReadWrite(dir + "/none"));
        assertTrue(missing.getMessage().contains("errno 2"), missing.getMessage());
    }

    @Test
    void missingModuleIsNamedInOneLine() {
        assumeTrue(NO_MODULE, "skipped: the nbd module is loaded here");
        assertEquals("no /dev/nbd0: kernel nbd module not loaded (modprobe nbd)",
                NbdDevice.unavailableReason(NbdDevice.FIRST));
        IOException e = assertThrows(IOException.class, NbdDevice::firstUsable);
        assertEquals("no /dev/nbd0: kernel nbd module not loaded (modprobe nbd)", e.getMessage());
    }

    @Test
    void aPathThatIsNotABlockDeviceIsRefused(@TempDir Path dir) throws Exception {
        Path file = Files.createFile(dir.resolve("nbd0"));
        assertEquals(file + " is not a block device", NbdDevice.unavailableReason(file));
        assertEquals("no " + dir.resolve("nbd7") + ": " + (NO_MODULE ? "kernel nbd module not loaded (modprobe nbd)"
                : "no such device"), NbdDevice.unavailableReason(dir.resolve("nbd7")));
    }

    @Test
    void deviceFrontendWithoutADeviceFailsBeforeOpeningTheBackend(@TempDir Path dir) {
        Path chunks = dir.resolve("chunks");
        IOException e = assertThrows(IOException.class, () -> NbdCommands.mount("dir:" + chunks + "?size=8M&chunk=1M",
                null, true, MountConfig.defaults(), false, NbdCommands.Frontend.DEVICE, dir.resolve("missing")));
        assertEquals("no " + dir.resolve("missing") + ": no such device", e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        assertFalse(Files.exists(chunks), "backend not opened");
    }

    @Test
    void autoChoosesFuseWhereThereIsNoDevNbd0() {
        assumeFalse(Files.exists(NbdDevice.FIRST), "skipped: /dev/nbd0 exists here");
        assertEquals(NbdCommands.Frontend.FUSE, NbdCommands.resolve(NbdCommands.Frontend.AUTO));
        assertEquals(NbdCommands.Frontend.DEVICE, NbdCommands.resolve(NbdCommands.Frontend.DEVICE));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NbdCommands.mount(
                "memory:8M", null, false, MountConfig.defaults(), false, NbdCommands.Frontend.AUTO, null));
        assertEquals("the fuse frontend needs --dir DIR (" + NbdDevice.unavailableReason(NbdDevice.FIRST) + ")",
                e.getMessage());
    }
}
