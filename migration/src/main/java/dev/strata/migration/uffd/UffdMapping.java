package dev.strata.migration.uffd;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A backend mapped into this process's memory with userfaultfd: an anonymous {@code MAP_NORESERVE}
 * region registered in MISSING mode; the first touch of a page faults, and a {@link UffdHelper}
 * process (never this JVM, DESIGN §8) fills it, with readahead, from the backend it opened by spec
 * (e.g. {@code file:/path}, {@code s3://…}, {@code dir:…}). {@link #evict} drops pages with
 * {@code MADV_DONTNEED} so they fault again (bounded residency is the caller's policy for now).
 *
 * <p>Without write-back, writes to the mapping stay local and are lost on eviction; with it
 * (write-protect mode, no residency cap) {@link #flush()} pushes them to the backend. Close
 * unregisters, unmaps and ends the helper by PID.
 */
public final class UffdMapping implements AutoCloseable {
    private static final AtomicInteger IDS = new AtomicInteger();
    private final int uffd;
    private final MemorySegment region;
    private final long size;
    private final Process helper;
    private final int sock;
    private final Path socketPath;
    private final Path log;
    private volatile boolean closed;
    private Thread evictor;
    private final Object flushes = new Object();
    private long flushSeq; // guarded by flushes
    private long flushedSeq; // guarded by flushes

    private UffdMapping(int uffd, MemorySegment region, long size, Process helper, int sock, Path socketPath, Path log) {
        this.uffd = uffd;
        this.region = region;
        this.size = size;
        this.helper = helper;
        this.sock = sock;
        this.socketPath = socketPath;
        this.log = log;
    }

    /**
     * Maps {@code size} bytes of the backend {@code spec} (opened read-only by the helper).
     *
     * @param threads        fault-handling threads in the helper
     * @param maxWindowBytes readahead ceiling
     */
    public static UffdMapping open(String spec, long size, int threads, int maxWindowBytes) throws IOException {
        return open(spec, size, threads, maxWindowBytes, 0);
    }

    /**
     * As {@link #open(String, long, int, int)}, with residency capped at {@code maxResidentBytes}
     * (0: unbounded; at least 4 readahead windows): the helper evicts the oldest windows (FIFO) and
     * this process drops them with MADV_DONTNEED on an evictor thread, acknowledging each, and the
     * helper copies nothing new while acknowledgements are outstanding beyond the cap.
     */
    public static UffdMapping open(String spec, long size, int threads, int maxWindowBytes, long maxResidentBytes)
            throws IOException {
        return open(spec, size, threads, maxWindowBytes, maxResidentBytes, false);
    }

    /**
     * With {@code writeBack}: write-protect mode. Pages arrive write-protected; the first write to a
     * page faults, the helper marks it dirty and unprotects it; {@link #flush()} pushes dirty pages
     * to the (writable) backend. Not combinable with a residency cap (an evicted dirty page would
     * be lost).
     */
    public static UffdMapping open(String spec, long size, int threads, int maxWindowBytes, long maxResidentBytes,
                                   boolean writeBack) throws IOException {
        if (writeBack && maxResidentBytes != 0) {
            throw new IllegalArgumentException("write-back mode cannot evict yet");
        }
        if (maxResidentBytes != 0 && maxResidentBytes < 4L * maxWindowBytes) {
            throw new IllegalArgumentException("residency cap below 4 readahead windows");
        }
        long mapped = (size + UffdHelper.PAGE - 1) / UffdHelper.PAGE * UffdHelper.PAGE;
        int fd;
        try {
            fd = Sys.userfaultfd(Sys.O_CLOEXEC | Sys.O_NONBLOCK);
        } catch (IOException e) { // unprivileged: only faults from user mode can be handled
            fd = Sys.userfaultfd(Sys.O_CLOEXEC | Sys.O_NONBLOCK | Sys.UFFD_USER_MODE_ONLY);
        }
        MemorySegment region = null;
        Process helper = null;
        int listen = -1;
        int sock = -1;
        Path socketPath = Path.of(System.getProperty("java.io.tmpdir"),
                "strata-uffd-" + ProcessHandle.current().pid() + "-" + IDS.incrementAndGet() + ".sock");
        Path log = Files.createTempFile("strata-uffd-helper", ".log");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment api = a.allocate(24, 8);
            api.set(ValueLayout.JAVA_LONG, 0, Sys.UFFD_API);
            api.set(ValueLayout.JAVA_LONG, 8, writeBack ? Sys.UFFD_FEATURE_PAGEFAULT_FLAG_WP : 0);
            Sys.ioctl(fd, Sys.UFFDIO_API, api, "UFFDIO_API");
            region = Sys.mmapAnonymous(mapped);
            MemorySegment reg = a.allocate(32, 8);
            reg.set(ValueLayout.JAVA_LONG, 0, region.address());
            reg.set(ValueLayout.JAVA_LONG, 8, mapped);
            reg.set(ValueLayout.JAVA_LONG, 16, Sys.UFFDIO_REGISTER_MODE_MISSING
                    | (writeBack ? Sys.UFFDIO_REGISTER_MODE_WP : 0));
            Sys.ioctl(fd, Sys.UFFDIO_REGISTER, reg, "UFFDIO_REGISTER");
            Files.deleteIfExists(socketPath);
            listen = Sys.listenUnix(socketPath.toString());
            List<String> cmd = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-Xmx256m", "-XX:+UseSerialGC",
                    "-cp", System.getProperty("java.class.path"), UffdHelper.class.getName(),
                    socketPath.toString(), spec, Long.toString(size), Integer.toString(threads),
                    Integer.toString(maxWindowBytes), Long.toString(maxResidentBytes),
                    Long.toString(writeBack ? ProcessHandle.current().pid() : 0)));
            helper = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (sock < 0) {
                if (!helper.isAlive()) {
                    throw new IOException("uffd helper exited with " + helper.exitValue() + ": " + Files.readString(log));
                }
                if (System.nanoTime() > deadline) {
                    throw new IOException("uffd helper did not connect within 120 s");
                }
                sock = Sys.accept(listen, 500);
            }
            byte[] hello = ByteBuffer.allocate(16).putLong(region.address()).putLong(size).array();
            Sys.sendFd(sock, fd, hello);
            UffdMapping m = new UffdMapping(fd, region, size, helper, sock, socketPath, log);
            m.evictor = Thread.ofPlatform().name("uffd-evictor").daemon().start(m::evictLoop);
            return m;
        } catch (IOException | RuntimeException e) {
            Sys.close(sock);
            if (helper != null) {
                helper.destroyForcibly();
            }
            if (region != null) {
                Sys.munmap(region);
            }
            Sys.close(fd);
            Files.deleteIfExists(log);
            throw e;
        } finally {
            Sys.close(listen);
            Files.deleteIfExists(socketPath);
        }
    }

    /** The mapped bytes; valid until {@link #close}. Touching a page the first time faults it in. */
    public MemorySegment segment() {
        return region.asSlice(0, size);
    }

    public long size() {
        return size;
    }

    /** The helper's PID (the process serving faults). */
    public long helperPid() {
        return helper.pid();
    }

    /** Drops the pages of a range; they are fetched again on next touch. */
    public void evict(long offset, long length) throws IOException {
        long first = offset / UffdHelper.PAGE * UffdHelper.PAGE;
        long end = Math.min(region.byteSize(), (offset + length + UffdHelper.PAGE - 1) / UffdHelper.PAGE * UffdHelper.PAGE);
        Sys.dontNeed(region.asSlice(first, end - first));
    }

    /** Drops the windows the helper evicts and acknowledges each (never touches mapped memory). */
    private void evictLoop() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(16, 8);
            MemorySegment st = Sys.state(a);
            while (!closed) {
                if (!Sys.pollIn(sock, 200)) {
                    continue;
                }
                if (closed || !Sys.readFully(sock, m, st)) {
                    return;
                }
                long off = m.get(ValueLayout.JAVA_LONG, 0);
                long len = m.get(ValueLayout.JAVA_LONG, 8);
                if (off == -1) { // a flush finished
                    synchronized (flushes) {
                        flushedSeq = Math.max(flushedSeq, len);
                        flushes.notifyAll();
                    }
                    continue;
                }
                if (off < 0 || len <= 0 || off + len > region.byteSize()) {
                    return; // a broken helper: stop evicting
                }
                Sys.dontNeed(region.asSlice(off, len));
                Sys.write(sock, m);
            }
        } catch (IOException e) {
            if (!closed) {
                System.getLogger("dev.strata.migration.uffd").log(System.Logger.Level.WARNING, "uffd evictor: " + e);
            }
        }
    }

    /**
     * Write-protect mode: pushes every page written since the last flush to the backend and syncs
     * it; returns when the helper confirms.
     */
    public void flush() throws IOException {
        long seq;
        synchronized (flushes) {
            seq = ++flushSeq;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(16, 8);
            m.set(ValueLayout.JAVA_LONG, 0, -1);
            m.set(ValueLayout.JAVA_LONG, 8, seq);
            Sys.write(sock, m);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        synchronized (flushes) {
            while (flushedSeq < seq) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || closed) {
                    throw new IOException("flush not confirmed by the uffd helper");
                }
                try {
                    flushes.wait(TimeUnit.NANOSECONDS.toMillis(left) + 1);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException("interrupted during flush");
                }
            }
        }
    }

    /** Bytes of the mapping resident now (mincore). */
    public long residentBytes() throws IOException {
        return Sys.residentPages(region) * UffdHelper.PAGE;
    }

    /** Unregisters and unmaps the region, ends the helper (by PID, forcibly after 30 s). Idempotent. */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        if (evictor != null) {
            try {
                evictor.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment range = a.allocate(16, 8);
            range.set(ValueLayout.JAVA_LONG, 0, region.address());
            range.set(ValueLayout.JAVA_LONG, 8, region.byteSize());
            Sys.ioctlRaw(uffd, Sys.UFFDIO_UNREGISTER, range, Sys.state(a));
        }
        Sys.munmap(region);
        Sys.close(sock);
        Sys.close(uffd);
        try {
            if (!helper.waitFor(30, TimeUnit.SECONDS)) {
                helper.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            helper.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        Files.deleteIfExists(log);
    }

    /** The helper's output so far (fault counts, retried backend errors). */
    public String helperLog() throws IOException {
        return Files.exists(log) ? Files.readString(log) : "";
    }
}
