package dev.strata.migration.uffd;

import dev.strata.nbd.Backend;
import dev.strata.nbd.Backends;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The userfaultfd fault handler, run as its own process by {@link UffdMapping} (DESIGN §8). It
 * connects to the mapping's Unix socket, receives the userfaultfd with {@code SCM_RIGHTS} plus the
 * region's base address and size, opens the backend itself (read-only) and serves page faults on
 * several threads: read the faulting window from the backend, {@code UFFDIO_COPY} it into the
 * mapping process. Sequential faults grow the window (readahead: 64 KiB doubling up to the maximum);
 * a random fault resets it. Backend errors are retried with backoff and reported, never fatal.
 * Exits when the socket closes (the mapping was closed or its process died).
 *
 * <p>Usage: {@code UffdHelper SOCKET BACKEND-SPEC SIZE THREADS MAX-WINDOW-BYTES}
 */
public final class UffdHelper {
    static final int PAGE = 4096;
    private static final int MIN_WINDOW = 16; // pages

    private final int uffd;
    private final long base;
    private final long size;
    private final Backend backend;
    private final int maxWindow;
    private final AtomicLongArray populated;
    private final AtomicLong nextExpected = new AtomicLong(-1);
    private final AtomicLong window = new AtomicLong(MIN_WINDOW);
    private final long maxResidentPages;
    private final java.util.concurrent.ConcurrentLinkedQueue<long[]> fifo = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final AtomicLong residentPages = new AtomicLong(); // copied, minus evictions the mapping acknowledged
    private final AtomicLong queuedPages = new AtomicLong(); // still in the FIFO (not yet sent for eviction)
    private final int sock;
    private final int pid; // the mapping process (write-protect mode), 0 otherwise
    private final AtomicLongArray dirty;
    final AtomicLong evictedPages = new AtomicLong();
    final AtomicLong faults = new AtomicLong();
    final AtomicLong copiedBytes = new AtomicLong();

    UffdHelper(int uffd, int sock, long base, long size, Backend backend, int maxWindowBytes, long maxResidentBytes,
               int pid) {
        this.uffd = uffd;
        this.pid = pid;
        this.dirty = new AtomicLongArray((int) ((size / PAGE + 63) / 64));
        this.sock = sock;
        this.maxResidentPages = maxResidentBytes <= 0 ? Long.MAX_VALUE : maxResidentBytes / PAGE;
        this.base = base;
        this.size = size;
        this.backend = backend;
        this.maxWindow = Math.max(MIN_WINDOW, maxWindowBytes / PAGE);
        this.populated = new AtomicLongArray((int) ((size / PAGE + 63) / 64));
    }

    public static void main(String[] args) throws Exception {
        String socket = args[0];
        String spec = args[1];
        long size = Long.parseLong(args[2]);
        int threads = Integer.parseInt(args[3]);
        int maxWindow = Integer.parseInt(args[4]);
        long maxResident = Long.parseLong(args[5]);
        int pid = args.length > 6 ? Integer.parseInt(args[6]) : 0;
        int sock = Sys.connectUnix(socket);
        byte[] hello = new byte[16];
        int uffd = Sys.recvFd(sock, hello);
        ByteBuffer b = ByteBuffer.wrap(hello);
        long base = b.getLong(0);
        if (b.getLong(8) != size) {
            throw new IllegalStateException("size mismatch");
        }
        try (Backend backend = Backends.open(spec, pid == 0)) {
            UffdHelper h = new UffdHelper(uffd, sock, base, size, backend, maxWindow, maxResident, pid);
            for (int i = 0; i < threads; i++) {
                Thread.ofPlatform().name("uffd-fault-" + i).daemon().start(h::serve);
            }
            // the mapping acknowledges each eviction (16 bytes: offset, length) once madvised; the
            // socket closing (EOF or error) ends this process
            try (Arena a = Arena.ofConfined()) {
                MemorySegment ack = a.allocate(16, 8);
                MemorySegment st = Sys.state(a);
                while (Sys.readFully(sock, ack, st)) {
                    if (ack.get(ValueLayout.JAVA_LONG, 0) == -1) { // flush request (write-protect mode)
                        h.flush();
                        synchronized (h) {
                            Sys.write(sock, ack);
                        }
                    } else {
                        h.residentPages.addAndGet(-ack.get(ValueLayout.JAVA_LONG, 8) / PAGE);
                    }
                }
            }
            System.err.printf("uffd helper: %d faults, %d MiB copied, %d MiB evicted%n", h.faults.get(),
                    h.copiedBytes.get() >> 20, (h.evictedPages.get() * PAGE) >> 20);
        }
        System.exit(0);
    }

    private boolean isPopulated(long page) {
        return (populated.get((int) (page >>> 6)) & (1L << page)) != 0;
    }

    private void markPopulated(long first, long count) {
        for (long p = first; p < first + count; p++) {
            long bit = 1L << p;
            populated.getAndUpdate((int) (p >>> 6), w -> w | bit);
        }
    }

    /** One fault-handling thread. */
    void serve() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment msg = arena.allocate(32, 8);
            MemorySegment buf = arena.allocate((long) maxWindow * PAGE, PAGE);
            MemorySegment copy = arena.allocate(40, 8);
            MemorySegment st = Sys.state(arena);
            long pages = (size + PAGE - 1) / PAGE;
            while (true) {
                if (!Sys.pollIn(uffd, 1000)) {
                    continue;
                }
                long n = Sys.readRaw(uffd, msg, st);
                if (n == -Sys.EAGAIN || n == -Sys.EINTR) {
                    continue; // another thread took it
                }
                if (n < 0) {
                    return; // uffd closed
                }
                if ((msg.get(ValueLayout.JAVA_BYTE, 0) & 0xff) != Sys.UFFD_EVENT_PAGEFAULT) {
                    continue;
                }
                faults.incrementAndGet();
                long page = (msg.get(ValueLayout.JAVA_LONG, 16) - base) / PAGE;
                if ((msg.get(ValueLayout.JAVA_LONG, 8) & Sys.UFFD_PAGEFAULT_FLAG_WP) != 0) {
                    // first write to a clean page: remember it, let the write through
                    long bit = 1L << page;
                    dirty.getAndUpdate((int) (page >>> 6), w -> w | bit);
                    int rc = Sys.writeProtect(uffd, base + page * PAGE, PAGE, false, copy, st);
                    if (rc < 0) {
                        System.err.println("uffd helper: unprotect failed, errno " + -rc);
                    }
                    continue;
                }
                long count = windowFor(page);
                awaitRoom(count);
                long end = Math.min(pages, page + count);
                long last = page + 1;
                while (last < end && !isPopulated(last)) {
                    last++;
                }
                long len = Math.min((last - page) * PAGE, size - page * PAGE);
                readWithRetry(page * PAGE, buf.asSlice(0, len));
                copy.set(ValueLayout.JAVA_LONG, 0, base + page * PAGE);
                copy.set(ValueLayout.JAVA_LONG, 8, buf.address());
                copy.set(ValueLayout.JAVA_LONG, 16, (len + PAGE - 1) / PAGE * PAGE);
                copy.set(ValueLayout.JAVA_LONG, 24, pid != 0 ? Sys.UFFDIO_COPY_MODE_WP : 0);
                copy.set(ValueLayout.JAVA_LONG, 32, 0);
                int rc;
                while ((rc = Sys.ioctlRaw(uffd, Sys.UFFDIO_COPY, copy, st)) == -Sys.EAGAIN) {
                    Thread.onSpinWait();
                }
                long done = copy.get(ValueLayout.JAVA_LONG, 32);
                if (rc == 0 || done > 0) {
                    long copied = Math.max(0, done) / PAGE;
                    markPopulated(page, copied);
                    copiedBytes.addAndGet(Math.max(0, done));
                    if (maxResidentPages != Long.MAX_VALUE && copied > 0) {
                        residentPages.addAndGet(copied);
                        queuedPages.addAndGet(copied);
                        fifo.add(new long[] {page, copied});
                        evictOverCap(arena);
                    }
                }
                if (rc < 0 && rc != -Sys.EEXIST) {
                    System.err.println("uffd helper: UFFDIO_COPY failed, errno " + -rc);
                }
            }
        } catch (IOException e) {
            System.err.println("uffd helper: fault thread ended: " + e);
        }
    }

    /**
     * FIFO eviction: while the pages still queued exceed the cap, the oldest window's pages are
     * forgotten here and sent to the mapping to be dropped with MADV_DONTNEED (it acknowledges).
     */
    private void evictOverCap(Arena arena) throws IOException {
        MemorySegment m = null;
        while (queuedPages.get() > maxResidentPages) {
            long[] w = fifo.poll();
            if (w == null) {
                return;
            }
            queuedPages.addAndGet(-w[1]);
            for (long p = w[0]; p < w[0] + w[1]; p++) {
                long bit = 1L << p;
                populated.getAndUpdate((int) (p >>> 6), x -> x & ~bit);
            }
            if (m == null) {
                m = arena.allocate(16, 8);
            }
            m.set(ValueLayout.JAVA_LONG, 0, w[0] * PAGE);
            m.set(ValueLayout.JAVA_LONG, 8, w[1] * PAGE);
            synchronized (this) {
                Sys.write(sock, m);
            }
            evictedPages.addAndGet(w[1]);
        }
    }

    /**
     * Pushes every dirty page to the backend: clear its dirty bit, write-protect it again (a later
     * write faults and re-dirties it), read it from the mapping process, write it back; then sync.
     */
    void flush() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            flush(arena);
        }
    }

    private void flush(Arena arena) throws IOException {
        MemorySegment arg = arena.allocate(24, 8);
        MemorySegment st = Sys.state(arena);
        MemorySegment buf = arena.allocate(PAGE, PAGE);
        long pages = (size + PAGE - 1) / PAGE;
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
            Sys.readRemote(pid, base + p * PAGE, buf.asSlice(0, len));
            backend.writeAt(p * PAGE, buf.asSlice(0, len));
        }
        backend.sync();
    }

    /** Backpressure: copy no more while unacknowledged evictions would push residency past the cap. */
    private void awaitRoom(long pages) {
        if (maxResidentPages == Long.MAX_VALUE) {
            return;
        }
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (residentPages.get() + pages > maxResidentPages + pages && System.nanoTime() < deadline) {
            java.util.concurrent.locks.LockSupport.parkNanos(50_000); // waiting for the mapping's acks
        }
    }

    /** Readahead: a fault right after the previous window doubles the window, any other resets it. */
    private long windowFor(long page) {
        long expected = nextExpected.get();
        long w;
        if (page == expected) {
            w = Math.min(maxWindow, window.get() * 2);
        } else {
            w = MIN_WINDOW;
        }
        window.set(w);
        nextExpected.set(page + w);
        return w;
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
