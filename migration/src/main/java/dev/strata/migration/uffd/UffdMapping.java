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
 * A backend mapped into this process's memory with userfaultfd: a shared mapping of a memory file
 * (memfd), registered in MISSING mode; the first touch of a page faults, and a {@link UffdHelper}
 * process (never this JVM, DESIGN §8) fills it, with pipelined readahead, from the backend it opened
 * by spec (e.g. {@code file:/path}, {@code s3://…}, {@code dir:…}). The helper receives the
 * userfaultfd and the memory file over a Unix socket ({@code SCM_RIGHTS}), so it can also free pages
 * itself (punching holes into the file): a residency cap is enforced by the helper alone, before each
 * window is copied in, and needs no thread of this JVM.
 *
 * <p>Without write-back, writes to the mapping stay local and are lost on eviction; with it
 * (write-protect mode, no residency cap) {@link #flush()} pushes them to the backend. Close
 * unregisters, unmaps and ends the helper by PID.
 */
public final class UffdMapping implements AutoCloseable {
    private static final AtomicInteger IDS = new AtomicInteger();
    private final int uffd;
    private final int memfd;
    private final MemorySegment region;
    private final long size;
    private final Process helper;
    private final int sock;
    private final Path log;
    private volatile boolean closed;
    private final Object requests = new Object(); // one request to the helper at a time
    private long flushSeq; // guarded by requests

    private UffdMapping(int uffd, int memfd, MemorySegment region, long size, Process helper, int sock, Path log) {
        this.uffd = uffd;
        this.memfd = memfd;
        this.region = region;
        this.size = size;
        this.helper = helper;
        this.sock = sock;
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
     * (0: unbounded; at least 4 readahead windows): before copying a window in, the helper frees the
     * oldest windows (FIFO) so that the pages held, including those being copied, never exceed the cap.
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
        int memfd = -1;
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
            api.set(ValueLayout.JAVA_LONG, 8, writeBack
                    ? Sys.UFFD_FEATURE_PAGEFAULT_FLAG_WP | Sys.UFFD_FEATURE_WP_HUGETLBFS_SHMEM : 0);
            Sys.ioctl(fd, Sys.UFFDIO_API, api, "UFFDIO_API");
            memfd = Sys.memfd("strata-uffd", mapped);
            region = Sys.mmapShared(memfd, mapped, true);
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
                    "-XX:TieredStopAtLevel=1", // the hot work is in the kernel: C1 code is enough, C2 compiles cost CPU
                    "-cp", System.getProperty("java.class.path"), UffdHelper.class.getName(),
                    socketPath.toString(), spec, Long.toString(size), Integer.toString(threads),
                    Integer.toString(maxWindowBytes), Long.toString(maxResidentBytes), writeBack ? "1" : "0"));
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
            Sys.sendFds(sock, new int[] {fd, memfd}, hello);
            UffdMapping m = new UffdMapping(fd, memfd, region, size, helper, sock, log);
            memfd = -1; // the mapping owns it now
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
            Sys.close(memfd); // unless the mapping took it
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

    /**
     * Drops the pages of a range, rounded out to the helper's 64 KiB chunks (chunks being filled
     * stay); they are fetched again on next touch. Done by the helper, which keeps count.
     */
    public void evict(long offset, long length) throws IOException {
        if (offset < 0 || length <= 0 || offset >= region.byteSize()) {
            return;
        }
        request(offset, length);
    }

    /**
     * Write-protect mode: pushes every page written since the last flush to the backend and syncs
     * it; returns when the helper confirms.
     */
    public void flush() throws IOException {
        long seq;
        synchronized (requests) {
            seq = ++flushSeq;
        }
        request(-1, seq);
    }

    /** Sends one request to the helper and waits (up to 120 s) for its answer, which echoes it. */
    private void request(long a, long b) throws IOException {
        synchronized (requests) {
            if (closed) {
                throw new IOException("mapping closed");
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment m = arena.allocate(16, 8);
                m.set(ValueLayout.JAVA_LONG, 0, a);
                m.set(ValueLayout.JAVA_LONG, 8, b);
                Sys.write(sock, m);
                MemorySegment reply = arena.allocate(16, 8);
                MemorySegment st = Sys.state(arena);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                while (!Sys.pollIn(sock, 200)) {
                    if (System.nanoTime() > deadline) {
                        throw new IOException("uffd helper did not answer within 120 s");
                    }
                }
                if (!Sys.readFully(sock, reply, st) || !reply.asByteBuffer().equals(m.asByteBuffer())) {
                    throw new IOException("uffd helper did not confirm: " + helperLog());
                }
            }
        }
    }

    /**
     * Bytes the mapping holds in memory now: the pages allocated to its memory file (fstat), mapped
     * into this process or not. One atomic reading of the kernel's count.
     */
    public long residentBytes() throws IOException {
        return Sys.allocatedBytes(memfd);
    }

    /**
     * Bytes of the mapping resident now by mincore over the whole range (pages of the memory file
     * in memory). The kernel scans the range in steps, so while the helper fills and evicts, one
     * reading can count a page evicted behind the scan and one filled ahead of it: it may exceed
     * what was ever held at once. {@link #residentBytes()} is the exact figure.
     */
    public long residentBytesByMincore() throws IOException {
        return Sys.residentPages(region) * UffdHelper.PAGE;
    }

    /** Unregisters and unmaps the region, ends the helper (by PID, forcibly after 30 s). Idempotent. */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        synchronized (requests) {
            closed = true;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment range = a.allocate(16, 8);
            range.set(ValueLayout.JAVA_LONG, 0, region.address());
            range.set(ValueLayout.JAVA_LONG, 8, region.byteSize());
            Sys.ioctlRaw(uffd, Sys.UFFDIO_UNREGISTER, range, Sys.state(a));
        }
        Sys.munmap(region);
        Sys.close(memfd);
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
