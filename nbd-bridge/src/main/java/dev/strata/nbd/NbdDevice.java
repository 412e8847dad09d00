package dev.strata.nbd;

import dev.strata.nbd.internal.NbdIoctl;
import dev.strata.nbd.internal.Proto;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Path frontend: an NBD export connected to the kernel's NBD client as {@code /dev/nbdX}, through the
 * ioctl interface of {@code <linux/nbd.h>} called with {@code java.lang.foreign} (DESIGN §8).
 *
 * <pre>
 *   connect:  sock = socket+connect(host:port)        handshake in Java (NBD_OPT_GO) on sock
 *             dev  = open(/dev/nbdN, O_RDWR)
 *             ioctl(dev, NBD_SET_BLKSIZE, 4096 | 512)  ioctl(dev, NBD_SET_SIZE_BLOCKS, size / blksize)
 *             ioctl(dev, NBD_CLEAR_SOCK)                ioctl(dev, NBD_SET_FLAGS, export's transmission flags)
 *             ioctl(dev, NBD_SET_SOCK, sock)
 *             thread "nbd-device-nbdN": ioctl(dev, NBD_DO_IT)   (blocks while the device is connected)
 *   close:    fsync(dev); ioctl(dev, NBD_DISCONNECT); ioctl(dev, NBD_CLEAR_SOCK); join; close(dev, sock)
 * </pre>
 * The transmission phase runs between the kernel and the server; this process only holds the
 * descriptors. Needs the {@code nbd} kernel module and CAP_SYS_ADMIN; {@link #unavailableReason}
 * says in one line why a device cannot be used. The kernel client speaks simple replies only, so the
 * handshake does not ask for structured replies. IPv4 servers only.
 */
public final class NbdDevice implements AutoCloseable {
    /** The device {@code --frontend auto} tries. */
    public static final Path FIRST = Path.of("/dev/nbd0");
    private static final Pattern NAME = Pattern.compile("nbd(\\d+)");
    private static final int S_IFMT = 0170000;
    private static final int S_IFBLK = 0060000;

    private final Path path;
    private final long size;
    private final int devFd;
    private final int sockFd;
    private final Thread doIt;
    private volatile IOException doItFailure;
    private boolean closed;

    private NbdDevice(Path path, long size, int devFd, int sockFd) {
        this.path = path;
        this.size = size;
        this.devFd = devFd;
        this.sockFd = sockFd;
        this.doIt = Thread.ofPlatform().name("nbd-device-" + path.getFileName()).daemon().unstarted(this::doIt);
    }

    /**
     * Why {@code device} cannot be connected, in one line, or null if it looks usable (exists, is a
     * block device, is not connected already, and this process may open it read-write).
     */
    public static String unavailableReason(Path device) {
        Matcher m = NAME.matcher(device.getFileName() == null ? "" : device.getFileName().toString());
        if (!Files.exists(device, LinkOption.NOFOLLOW_LINKS) && !Files.exists(device)) {
            if (m.matches() && !Files.exists(Path.of("/sys/module/nbd"))) {
                return "no " + device + ": kernel nbd module not loaded (modprobe nbd)";
            }
            return "no " + device + ": no such device";
        }
        try {
            int mode = (Integer) Files.getAttribute(device, "unix:mode");
            if ((mode & S_IFMT) != S_IFBLK) {
                return device + " is not a block device";
            }
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "cannot stat " + device + ": " + e.getMessage();
        }
        if (m.matches()) {
            Path pid = Path.of("/sys/block", "nbd" + m.group(1), "pid");
            if (Files.exists(pid)) {
                String owner = "";
                try {
                    owner = " (by pid " + Files.readString(pid).strip() + ")";
                } catch (IOException ignored) {
                    // gone meanwhile
                }
                return device + " is already connected" + owner;
            }
        }
        if (!Files.isReadable(device) || !Files.isWritable(device)) {
            return "no permission to open " + device + " read-write (needs root or the disk group, and CAP_SYS_ADMIN)";
        }
        return null;
    }

    /** The first {@code /dev/nbdN} (N = 0..63) that {@link #unavailableReason} accepts, else an error saying why /dev/nbd0 is not. */
    public static Path firstUsable() throws IOException {
        for (int i = 0; i < 64; i++) {
            Path p = Path.of("/dev/nbd" + i);
            if (!Files.exists(p)) {
                break;
            }
            if (unavailableReason(p) == null) {
                return p;
            }
        }
        String why = unavailableReason(FIRST);
        throw new IOException(why != null ? why : "no free /dev/nbdN device");
    }

    /**
     * Connects {@code export} at {@code host:port} as {@code device}; returns once the kernel has the
     * device (its size visible in sysfs). Throws with a one-line reason when the device is unusable.
     */
    public static NbdDevice connect(Path device, String host, int port, String export) throws IOException {
        String why = unavailableReason(device);
        if (why != null) {
            throw new IOException(why);
        }
        int sock = NbdIoctl.connectTcp(InetAddress.getByName(host), port);
        int dev = -1;
        try {
            NbdClient.Agreed agreed = NbdClient.handshake(NbdIoctl.inputStream(sock), NbdIoctl.outputStream(sock),
                    export);
            long blockSize = agreed.size() % 4096 == 0 ? 4096 : 512;
            dev = NbdIoctl.openReadWrite(device.toString());
            NbdIoctl.ioctl(dev, NbdIoctl.NBD_SET_BLKSIZE, blockSize, "NBD_SET_BLKSIZE on " + device);
            NbdIoctl.ioctl(dev, NbdIoctl.NBD_SET_SIZE_BLOCKS, agreed.size() / blockSize,
                    "NBD_SET_SIZE_BLOCKS on " + device);
            NbdIoctl.ioctl(dev, NbdIoctl.NBD_CLEAR_SOCK, 0, "NBD_CLEAR_SOCK on " + device);
            NbdIoctl.ioctl(dev, NbdIoctl.NBD_SET_FLAGS, agreed.transmissionFlags() | Proto.TFLAG_HAS_FLAGS,
                    "NBD_SET_FLAGS on " + device);
            NbdIoctl.ioctl(dev, NbdIoctl.NBD_SET_SOCK, sock, "NBD_SET_SOCK on " + device);
            NbdDevice d = new NbdDevice(device, agreed.size(), dev, sock);
            d.doIt.start();
            d.awaitConnected();
            return d;
        } catch (IOException | RuntimeException e) {
            if (dev >= 0) {
                try {
                    NbdIoctl.ioctl(dev, NbdIoctl.NBD_CLEAR_SOCK, 0, "NBD_CLEAR_SOCK");
                } catch (IOException ignored) {
                    // best effort
                }
                NbdIoctl.close(dev);
            }
            NbdIoctl.close(sock);
            throw e;
        }
    }

    /** Serves the device until NBD_DISCONNECT/NBD_CLEAR_SOCK (or the connection breaks). */
    private void doIt() {
        try {
            NbdIoctl.ioctl(devFd, NbdIoctl.NBD_DO_IT, 0, "NBD_DO_IT on " + path);
        } catch (IOException e) {
            doItFailure = e;
        }
    }

    /** Waits until sysfs shows the device connected with its size, or NBD_DO_IT failed. */
    private void awaitConnected() throws IOException {
        Path sizeFile = Path.of("/sys/block", path.getFileName().toString(), "size");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            try {
                if (Files.exists(sizeFile) && Long.parseLong(Files.readString(sizeFile).strip()) * 512 == size
                        && doIt.isAlive()) {
                    return;
                }
            } catch (NumberFormatException ignored) {
                // not yet
            }
            if (!doIt.isAlive()) {
                close();
                throw doItFailure != null ? doItFailure : new IOException("NBD_DO_IT on " + path + " returned at once");
            }
            if (System.nanoTime() > deadline) {
                close();
                throw new IOException(path + " did not show " + size + " bytes within 10 s");
            }
            try {
                doIt.join(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                close();
                throw new IOException("interrupted", e);
            }
        }
    }

    /** The device node, e.g. {@code /dev/nbd0}. */
    public Path path() {
        return path;
    }

    /** Size of the export in bytes. */
    public long size() {
        return size;
    }

    /**
     * Flushes the device's dirty pages to the server, disconnects it and releases the descriptors.
     * Idempotent.
     */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        IOException failure = null;
        try {
            if (doIt.isAlive()) {
                NbdIoctl.fsync(devFd, path.toString());
            }
        } catch (IOException e) {
            failure = e;
        }
        try {
            NbdIoctl.ioctl(devFd, NbdIoctl.NBD_DISCONNECT, 0, "NBD_DISCONNECT on " + path);
        } catch (IOException e) {
            failure = failure != null ? failure : e;
        }
        try {
            NbdIoctl.ioctl(devFd, NbdIoctl.NBD_CLEAR_SOCK, 0, "NBD_CLEAR_SOCK on " + path);
        } catch (IOException e) {
            failure = failure != null ? failure : e;
        }
        try {
            doIt.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        NbdIoctl.close(devFd);
        NbdIoctl.close(sockFd);
        if (doIt.isAlive()) {
            failure = failure != null ? failure : new IOException("NBD_DO_IT on " + path + " still running after disconnect");
        }
        if (failure != null) {
            throw failure;
        }
    }
}
