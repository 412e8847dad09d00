package dev.strata.migration.uffd;

import dev.strata.nbd.Backend;
import dev.strata.nbd.Backends;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The userfaultfd fault handler, run as its own process by {@link UffdMapping} (DESIGN §8). It
 * connects to the mapping's Unix socket and receives, with {@code SCM_RIGHTS}, the userfaultfd and
 * the memory file (memfd) the mapping's region maps, plus the region's base address and size; it
 * opens the backend itself and fills the region with {@code UFFDIO_COPY}:
 *
 * <ul>
 *   <li><b>Fault threads</b> read fault events; a fault on a missing chunk (64 KiB) is filled at once
 *       (from a mapped file at most one {@link #PIECE}, so the faulting thread waits for little), a fault on a chunk
 *       being filled is left to its filler (whose copy wakes it).
 *   <li><b>Readahead</b>: a fault at or inside the range already scheduled continues the sequential
 *       stream and doubles the window (64 KiB up to the maximum); the windows up to {@link #DEPTH}
 *       windows past the fault are queued for the <b>readahead threads</b>, which copy them while the
 *       reader consumes the current one (pipelining). Any other fault resets the stream.
 *   <li><b>Sources</b>: a {@code file:} backend is mapped read-only here and copied straight from
 *       that mapping (one copy, source page tables prefaulted with MADV_POPULATE_READ); any other
 *       backend is read into a per-thread buffer first.
 *   <li><b>Residency</b> ({@link ChunkTable}): with a cap, room is made before a window is claimed by
 *       punching holes into the memory file (fallocate), which frees the pages and unmaps them from
 *       the mapping process without its help, so no thread of that JVM is needed (one faulting in
 *       Java code would hold it at a safepoint) and resident memory never exceeds the cap.
 * </ul>
 *
 * Backend errors are retried with backoff and reported, never fatal. Requests on the socket (16
 * bytes: offset, length): {@code -1, seq} flushes dirty pages (write-protect mode), an offset and
 * length evicts that range; each is answered with the same 16 bytes. Exits when the socket closes.
 *
 * <p>Usage: {@code UffdHelper SOCKET BACKEND-SPEC SIZE THREADS MAX-WINDOW-BYTES MAX-RESIDENT-BYTES WRITE-BACK(0|1)}
 */
public final class UffdHelper {
    static final int PAGE = 4096;
    static final int CHUNK_PAGES = 16;
    static final long CHUNK = (long) CHUNK_PAGES * PAGE; // the smallest fill and the unit of residency
    /** Largest single UFFDIO_COPY (and fill from a mapped file): a reader that caught up with a fill waits for about this much. */
    static final long PIECE = 1 << 20;
    private static final int PIECE_CHUNKS = (int) (PIECE / CHUNK);
    /** Readahead windows kept queued or in flight past a sequential fault. */
    static final int DEPTH = 2; // with the cap at >= 4 windows, readahead never evicts the window being read

    private final int uffd;
    private final int memfd;
    private final long base;
    private final long size;
    private final long mapped;
    private final Backend backend;
    private final MemorySegment source; // the backend file mapped read-only, or null
    private final long sourceLimit; // bytes of source that may be read through the mapping
    private final MemorySegment memView; // the memory file mapped here, never touched: mincore only
    private final int maxWindowChunks;
    private final int claimChunks; // largest fill: a piece from a mapped file, a whole window read from a backend
    private final boolean writeBack;
    private final ChunkTable table;
    private final AtomicLongArray dirty;
    private final LinkedBlockingQueue<long[]> readahead = new LinkedBlockingQueue<>(); // {first, end, epoch}
    private final Object stream = new Object();
    private int streamLast = -1; // guarded by stream: chunk of the last fault of the sequential stream
    private int streamNext = -1; // guarded by stream: first chunk not yet scheduled
    private int streamWindow = 1; // guarded by stream: chunks
    private long streamEpoch; // guarded by stream: bumped when the stream resets (stale readahead is dropped)
    private volatile long currentEpoch;
    final AtomicLong faults = new AtomicLong();
    final AtomicLong copiedBytes = new AtomicLong();

    UffdHelper(int uffd, int memfd, long base, long size, Backend backend, MemorySegment source, long sourceLimit,
               int maxWindowBytes, long maxResidentBytes, boolean writeBack) throws IOException {
        this.uffd = uffd;
        this.memfd = memfd;
        this.base = base;
        this.size = size;
        this.mapped = (size + PAGE - 1) / PAGE * PAGE;
        this.backend = backend;
        this.source = source;
        this.sourceLimit = sourceLimit;
        this.writeBack = writeBack;
        this.memView = Sys.mmapShared(memfd, mapped, false);
        this.maxWindowChunks = (int) Math.max(1, maxWindowBytes / CHUNK);
        // a backend read through the buffer gets whole windows, which it may fetch in parallel (S3)
        this.claimChunks = source != null ? PIECE_CHUNKS : Math.max(PIECE_CHUNKS, maxWindowChunks);
        int chunks = (int) ((mapped + CHUNK - 1) / CHUNK);
        this.table = new ChunkTable(chunks, maxResidentBytes <= 0 ? Long.MAX_VALUE : maxResidentBytes / CHUNK,
                this::punch);
        this.dirty = new AtomicLongArray((int) ((mapped / PAGE + 63) / 64));
    }

    public static void main(String[] args) throws Exception {
        String socket = args[0];
        String spec = args[1];
        long size = Long.parseLong(args[2]);
        int threads = Integer.parseInt(args[3]);
        int maxWindow = Integer.parseInt(args[4]);
        long maxResident = Long.parseLong(args[5]);
        boolean writeBack = !args[6].equals("0");
        int sock = Sys.connectUnix(socket);
        byte[] hello = new byte[16];
        int[] fds = Sys.recvFds(sock, hello, 2);
        ByteBuffer b = ByteBuffer.wrap(hello);
        long base = b.getLong(0);
        if (b.getLong(8) != size) {
            throw new IllegalStateException("size mismatch");
        }
        try (Backend backend = Backends.open(spec, !writeBack)) {
            MemorySegment source = null;
            long sourceLimit = 0;
            Path file = filePath(spec);
            if (file != null) { // copy straight from the page cache of the file
                long length = Math.min(Files.size(file), size);
                sourceLimit = length / PAGE * PAGE;
                if (sourceLimit > 0) {
                    int fd = Sys.openReadOnly(file.toString());
                    try {
                        source = Sys.mmapShared(fd, sourceLimit, false);
                    } finally {
                        Sys.close(fd); // the mapping keeps the file
                    }
                }
            }
            UffdHelper h = new UffdHelper(fds[0], fds[1], base, size, backend, source, sourceLimit, maxWindow,
                    maxResident, writeBack);
            for (int i = 0; i < threads; i++) {
                Thread.ofPlatform().name("uffd-fault-" + i).daemon().start(h::serveFaults);
                Thread.ofPlatform().name("uffd-readahead-" + i).daemon().start(h::serveReadahead);
            }
            h.serveRequests(sock);
            System.err.printf("uffd helper: %d faults, %d MiB copied, %d MiB evicted, peak %d MiB counted%n",
                    h.faults.get(), h.copiedBytes.get() >> 20, (h.table.evicted() * CHUNK) >> 20,
                    (h.table.peak() * CHUNK) >> 20);
        }
        System.exit(0);
    }

    /** The path of a {@code file:PATH[:SIZE]} spec, else null. */
    private static Path filePath(String spec) {
        if (!spec.startsWith("file:")) {
            return null;
        }
        String rest = spec.substring(5);
        int colon = rest.lastIndexOf(':');
        if (colon > 0 && colon + 1 < rest.length() && Character.isDigit(rest.charAt(colon + 1))) {
            rest = rest.substring(0, colon);
        }
        return Path.of(rest);
    }

    /** Answers the mapping's requests until the socket closes (the mapping closed or its process died). */
    private void serveRequests(int sock) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment req = a.allocate(16, 8);
            MemorySegment st = Sys.state(a);
            while (Sys.readFully(sock, req, st)) {
                long off = req.get(ValueLayout.JAVA_LONG, 0);
                long len = req.get(ValueLayout.JAVA_LONG, 8);
                if (off == -1) {
                    flush();
                } else if (off >= 0 && len > 0 && off < mapped) {
                    int first = (int) (off / CHUNK);
                    int last = (int) ((Math.min(mapped, off + len) + CHUNK - 1) / CHUNK);
                    table.evict(first, last - first);
                }
                Sys.write(sock, req);
            }
        }
    }

    private void punch(int first, int count) throws IOException {
        long off = first * CHUNK;
        Sys.punchHole(memfd, off, Math.min(mapped, off + count * CHUNK) - off);
    }

    /**
     * Per-thread buffers and ioctl arguments. Shared arena: a backend may fill the buffer from its
     * own I/O threads (the S3 chunk store fetches a run's chunks in parallel, straight into it).
     */
    private final class Filler implements AutoCloseable {
        final Arena arena = Arena.ofShared();
        final MemorySegment msg = arena.allocate(32, 8);
        final MemorySegment arg = arena.allocate(40, 8);
        final MemorySegment vec = arena.allocate(8, 8);
        final MemorySegment st = Sys.state(arena);
        MemorySegment buf; // for backends read through a buffer, allocated on first use

        /** Fills claimed chunks {@code [first, first + count)}; complete, or abort if the mapping is gone. */
        void fill(int first, int count) {
            long off = first * CHUNK;
            long len = Math.min(mapped, off + count * CHUNK) - off;
            boolean ok = false;
            try {
                ok = copyIn(off, len);
            } finally {
                if (ok) {
                    table.complete(first, count);
                } else {
                    try {
                        table.abort(first, count);
                    } catch (IOException e) {
                        System.err.println("uffd helper: freeing an aborted fill failed: " + e);
                    }
                    Sys.wake(uffd, base + off, len, arg, st); // whoever waits faults again
                }
            }
        }

        private boolean copyIn(long off, long len) {
            long src;
            if (source != null && off + len <= sourceLimit) {
                MemorySegment s = source.asSlice(off, len);
                Sys.populateRead(s, st); // a missing source page would send UFFDIO_COPY down its slow path
                src = s.address();
            } else {
                if (buf == null) {
                    buf = arena.allocate(claimChunks * CHUNK, PAGE);
                }
                long avail = Math.max(0, Math.min(len, size - off));
                readWithRetry(off, buf.asSlice(0, avail));
                if (avail < len) {
                    buf.asSlice(avail, len - avail).fill((byte) 0); // past the end of the object
                }
                src = buf.address();
            }
            long done = 0;
            while (done < len) {
                arg.set(ValueLayout.JAVA_LONG, 0, base + off + done);
                arg.set(ValueLayout.JAVA_LONG, 8, src + done);
                arg.set(ValueLayout.JAVA_LONG, 16, Math.min(PIECE, len - done)); // each piece wakes its waiters
                arg.set(ValueLayout.JAVA_LONG, 24, writeBack ? Sys.UFFDIO_COPY_MODE_WP : 0);
                arg.set(ValueLayout.JAVA_LONG, 32, 0);
                int rc = Sys.ioctlRaw(uffd, Sys.UFFDIO_COPY, arg, st);
                long n = arg.get(ValueLayout.JAVA_LONG, 32);
                if (n > 0) { // copied (and woken) n bytes; partial copies return EAGAIN
                    done += n;
                    copiedBytes.addAndGet(n);
                    continue;
                }
                if (n == -Sys.EEXIST) { // the page is there already: make sure its waiters run, go on
                    Sys.wake(uffd, base + off + done, PAGE, arg, st);
                    done += PAGE;
                } else if (n == -Sys.EAGAIN || rc == -Sys.EAGAIN) {
                    Thread.onSpinWait(); // the mapping's layout is changing: retry
                } else {
                    System.err.println("uffd helper: UFFDIO_COPY at " + (off + done) + " failed, errno " + -rc);
                    return false;
                }
            }
            return true;
        }

        @Override
        public void close() {
            arena.close();
        }
    }

    /** One fault-handling thread. */
    void serveFaults() {
        try (Filler f = new Filler()) {
            while (true) {
                if (!Sys.pollIn(uffd, 1000)) {
                    continue;
                }
                long n = Sys.readRaw(uffd, f.msg, f.st);
                if (n == -Sys.EAGAIN || n == -Sys.EINTR) {
                    continue; // another thread took it
                }
                if (n < 0) {
                    return; // uffd closed
                }
                if ((f.msg.get(ValueLayout.JAVA_BYTE, 0) & 0xff) != Sys.UFFD_EVENT_PAGEFAULT) {
                    continue;
                }
                faults.incrementAndGet();
                long page = (f.msg.get(ValueLayout.JAVA_LONG, 16) - base) / PAGE;
                if ((f.msg.get(ValueLayout.JAVA_LONG, 8) & Sys.UFFD_PAGEFAULT_FLAG_WP) != 0) {
                    // first write to a clean page: remember it, let the write through
                    long bit = 1L << page;
                    dirty.getAndUpdate((int) (page >>> 6), w -> w | bit);
                    int rc = Sys.writeProtect(uffd, base + page * PAGE, PAGE, false, f.arg, f.st);
                    if (rc < 0) {
                        System.err.println("uffd helper: unprotect failed, errno " + -rc);
                    }
                    continue;
                }
                onMissing(page, f);
            }
        } catch (IOException | InterruptedException e) {
            System.err.println("uffd helper: fault thread ended: " + e);
        }
    }

    private void onMissing(long page, Filler f) throws IOException, InterruptedException {
        int chunk = (int) (page / CHUNK_PAGES);
        int now = schedule(chunk);
        while (true) {
            int n = table.claim(chunk, now);
            if (n > 0) {
                f.fill(chunk, n); // wakes the faulting thread
                return;
            }
            switch (table.state(chunk)) {
                case ChunkTable.FILLING:
                    return; // its filler's copy wakes the faulting thread
                case ChunkTable.PRESENT:
                    if (table.reclaimIfMissing(chunk, c -> Sys.pageResident(memView.asSlice(page * PAGE, PAGE), f.vec, f.st))) {
                        f.fill(chunk, 1);
                    } else {
                        Sys.wake(uffd, base + page * PAGE, PAGE, f.arg, f.st); // a stale fault
                    }
                    return;
                default:
                    break; // evicted meanwhile: claim again
            }
        }
    }

    /**
     * Readahead: updates the sequential stream for a fault at {@code chunk}, queues the windows up to
     * {@link #DEPTH} windows ahead of it, and returns how many chunks to fill at once for the fault.
     */
    private int schedule(int chunk) {
        int chunks = table.chunks();
        synchronized (stream) {
            boolean sequential = streamLast >= 0 && chunk >= streamLast && chunk <= streamNext;
            if (!sequential) {
                streamWindow = 1;
                streamLast = chunk;
                streamNext = chunk + 1;
                currentEpoch = ++streamEpoch;
                return 1;
            }
            if (chunk > streamLast) {
                streamWindow = Math.min(maxWindowChunks, streamWindow * 2);
            }
            streamLast = chunk;
            int now = Math.min(streamWindow, claimChunks);
            streamNext = Math.max(streamNext, Math.min(chunks, chunk + now));
            long target = Math.min(chunks, (long) chunk + now + (long) DEPTH * streamWindow);
            while (streamNext < target) {
                int end = (int) Math.min(target, (long) streamNext + streamWindow);
                readahead.add(new long[] {streamNext, end, streamEpoch});
                streamNext = end;
            }
            return now;
        }
    }

    /** One readahead thread: fills queued windows, dropping those of a stream that has reset. */
    void serveReadahead() {
        try (Filler f = new Filler()) {
            while (true) {
                long[] w = readahead.take();
                for (int c = (int) w[0]; c < w[1] && w[2] == currentEpoch; ) {
                    int n = table.claim(c, (int) Math.min(claimChunks, w[1] - c));
                    if (n > 0) {
                        f.fill(c, n);
                        c += n;
                    } else {
                        c++;
                    }
                }
            }
        } catch (IOException | InterruptedException e) {
            System.err.println("uffd helper: readahead thread ended: " + e);
        }
    }

    /**
     * Pushes every dirty page to the backend: clear its dirty bit, write-protect it again (a later
     * write faults and re-dirties it), read it from the memory file, write it back; then sync.
     */
    void flush() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment arg = arena.allocate(24, 8);
            MemorySegment st = Sys.state(arena);
            MemorySegment buf = arena.allocate(PAGE, PAGE);
            long pages = mapped / PAGE;
            for (long p = 0; p < pages; p++) {
                long bit = 1L << p;
                long prev = dirty.getAndUpdate((int) (p >>> 6), w -> w & ~bit);
                if ((prev & bit) == 0) {
                    continue;
                }
                int rc = Sys.writeProtect(uffd, base + p * PAGE, PAGE, true, arg, st);
                if (rc < 0) {
                    throw new IOException("re-protect of page " + p + " failed, errno " + -rc);
                }
                long len = Math.min(PAGE, size - p * PAGE);
                Sys.pread(memfd, buf.asSlice(0, len), p * PAGE);
                backend.writeAt(p * PAGE, buf.asSlice(0, len));
            }
            backend.sync();
        }
    }

    private void readWithRetry(long offset, MemorySegment dst) {
        long pause = 10;
        for (int attempt = 1; ; attempt++) {
            try {
                backend.readAt(offset, dst);
                return;
            } catch (IOException | RuntimeException e) {
                System.err.printf("uffd helper: backend read at %d failed (attempt %d), retrying in %d ms: %s%n",
                        offset, attempt, pause, e + (e.getCause() == null ? "" : " (cause: " + e.getCause() + ")"));
                try {
                    Thread.sleep(pause); // retry backoff
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                }
                pause = Math.min(5000, pause * 2);
            }
        }
    }
}
