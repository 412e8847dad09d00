package dev.strata.core;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Anonymous virtual memory reservations through {@code java.lang.foreign}: {@code mmap} with
 * {@code MAP_NORESERVE}, {@code madvise(MADV_DONTNEED)} to drop physical pages, {@code munmap} on close.
 *
 * <p>A reservation costs address space only; physical memory is committed on first touch and
 * released by {@link #dontNeed}. After {@code MADV_DONTNEED} a private anonymous range reads as
 * zeros, so a racing optimistic reader never faults (DESIGN §4).
 *
 * <p>Not thread-safe for {@link #close}; every other method may be called concurrently.
 */
public final class NativeMemory implements AutoCloseable {
    private static final int PROT_READ = 0x1;
    private static final int PROT_WRITE = 0x2;
    private static final int MAP_PRIVATE = 0x02;
    private static final int MAP_ANONYMOUS = 0x20;
    private static final int MAP_NORESERVE = 0x4000;
    private static final int MADV_DONTNEED = 4;
    private static final int MADV_POPULATE_WRITE = 23; // Linux 5.14+
    private static final int MADV_HUGEPAGE = 14;
    private static final int MADV_NOHUGEPAGE = 15;
    private static final int PAGE = 4096;
    private static final int EINVAL = 22;
    private static volatile boolean populateUnsupported;
    private static final long MAP_FAILED = -1L;

    private static final MethodHandle MMAP;
    private static final MethodHandle MUNMAP;
    private static final MethodHandle MADVISE;
    /** glibc 2.36+'s {@code process_madvise}, or null. */
    private static final MethodHandle PROCESS_MADVISE;
    /** A pidfd of this process for {@code process_madvise}, or -1; open for the process's lifetime. */
    private static final int SELF_PIDFD;
    /** Ranges per {@code process_madvise} call (the kernel's {@code UIO_MAXIOV}). */
    private static final int MAX_IOV = 1024;
    private static volatile boolean batchUnsupported;

    static {
        Linker linker = Linker.nativeLinker();
        var libc = linker.defaultLookup();
        Linker.Option errno = Linker.Option.captureCallState("errno");
        MMAP = linker.downcallHandle(libc.find("mmap").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG),
                errno);
        MUNMAP = linker.downcallHandle(libc.find("munmap").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
        MADVISE = linker.downcallHandle(libc.find("madvise").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_INT),
                errno);
        MethodHandle pm = null;
        int pidfd = -1;
        var pmSym = libc.find("process_madvise");
        var openSym = libc.find("pidfd_open");
        if (pmSym.isPresent() && openSym.isPresent()) {
            try {
                MethodHandle open = linker.downcallHandle(openSym.get(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
                pidfd = (int) open.invokeExact((int) ProcessHandle.current().pid(), 0);
                pm = linker.downcallHandle(pmSym.get(), FunctionDescriptor.of(ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT,
                        ValueLayout.JAVA_INT));
            } catch (Throwable t) {
                pidfd = -1;
            }
        }
        PROCESS_MADVISE = pidfd >= 0 ? pm : null;
        SELF_PIDFD = pidfd;
    }

    private final MemorySegment segment;
    private volatile boolean closed;

    private NativeMemory(MemorySegment segment) {
        this.segment = segment;
    }

    /** Reserves {@code bytes} of zeroed, lazily committed, private anonymous memory. */
    public static NativeMemory reserve(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("reservation must be positive: " + bytes);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Linker.Option.captureStateLayout());
            MemorySegment addr = (MemorySegment) MMAP.invokeExact(state, MemorySegment.NULL, bytes,
                    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0L);
            if (addr.address() == MAP_FAILED) {
                int err = state.get(ValueLayout.JAVA_INT,
                        Linker.Option.captureStateLayout().byteOffset(
                                java.lang.foreign.MemoryLayout.PathElement.groupElement("errno")));
                throw new StrataException("mmap of " + ByteSize.format(bytes) + " failed, errno " + err);
            }
            return new NativeMemory(addr.reinterpret(bytes));
        } catch (StrataException e) {
            throw e;
        } catch (Throwable t) {
            throw new StrataException("mmap failed", t);
        }
    }

    /** The whole reservation. Valid until {@link #close}. */
    public MemorySegment segment() {
        return segment;
    }

    public long size() {
        return segment.byteSize();
    }

    /** Releases the physical pages of {@code [offset, offset+length)}; the range then reads as zeros. */
    public void dontNeed(long offset, long length) {
        checkRange(offset, length);
        if (length == 0) {
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Linker.Option.captureStateLayout());
            int rc = (int) MADVISE.invokeExact(state, segment.asSlice(offset, length), length, MADV_DONTNEED);
            if (rc != 0) {
                throw new StrataException("madvise(MADV_DONTNEED) failed with rc " + rc);
            }
        } catch (StrataException e) {
            throw e;
        } catch (Throwable t) {
            throw new StrataException("madvise failed", t);
        }
    }

    /**
     * Releases the physical pages of {@code count} ranges at once, as {@link #dontNeed(long, long)} does for
     * one: {@code [offsets[i], offsets[i] + lengths[i])}. Where the kernel takes {@code MADV_DONTNEED} through
     * {@code process_madvise} (Linux 6.13+; glibc 2.36+), the ranges go in one call, and a recent kernel
     * flushes the other cores' TLBs once for all of them instead of once per range (measured on 6.18: a
     * page store evicting 64 pages at a time sent 3% of the TLB shootdowns). Elsewhere one {@code madvise}
     * per range.
     */
    public void dontNeed(long[] offsets, long[] lengths, int count) {
        if (count < 0 || count > offsets.length || count > lengths.length) {
            throw new IndexOutOfBoundsException("count " + count + " outside the arrays");
        }
        for (int i = 0; i < count; i++) {
            checkRange(offsets[i], lengths[i]);
        }
        for (int from = 0; from < count; from += MAX_IOV) {
            int n = Math.min(MAX_IOV, count - from);
            if (batchUnsupported || PROCESS_MADVISE == null || !processDontNeed(offsets, lengths, from, n)) {
                for (int i = from; i < from + n; i++) {
                    dontNeed(offsets[i], lengths[i]);
                }
            }
        }
    }

    /** One {@code process_madvise(MADV_DONTNEED)} over {@code n} ranges; false if it did not do them all. */
    private boolean processDontNeed(long[] offsets, long[] lengths, int from, int n) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment iov = arena.allocate(16L * n, 8);
            long total = 0;
            for (int i = 0; i < n; i++) {
                iov.set(ValueLayout.JAVA_LONG, 16L * i, segment.address() + offsets[from + i]);
                iov.set(ValueLayout.JAVA_LONG, 16L * i + 8, lengths[from + i]);
                total += lengths[from + i];
            }
            long done = (long) PROCESS_MADVISE.invokeExact(SELF_PIDFD, iov, (long) n, MADV_DONTNEED, 0);
            if (done < 0) {
                batchUnsupported = true; // a kernel that refuses it (before 6.13: EINVAL): one call per range
                return false;
            }
            return done == total; // partly done: the caller repeats every range, which is harmless
        } catch (Throwable t) {
            batchUnsupported = true;
            return false;
        }
    }

    /** Whether {@link #dontNeed(long[], long[], int)} releases its ranges in one call here (tests, logs). */
    public static boolean batchedDontNeed() {
        return PROCESS_MADVISE != null && !batchUnsupported;
    }

    /**
     * Asks for transparent huge pages over {@code [offset, offset+length)} ({@code MADV_HUGEPAGE}), or
     * refuses them ({@code MADV_NOHUGEPAGE}: that range is then faulted in 4 KiB pages, even where the
     * system default is to use huge pages everywhere). A hint: returns false, and does nothing,
     * where the kernel lacks transparent huge pages.
     */
    public boolean hugePages(long offset, long length, boolean on) {
        checkRange(offset, length);
        if (length == 0) {
            return false;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Linker.Option.captureStateLayout());
            int rc = (int) MADVISE.invokeExact(state, segment.asSlice(offset, length), length,
                    on ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
            return rc == 0;
        } catch (Throwable t) {
            return false;
        }
    }

    /**
     * Faults in (writable, zeroed) every page of {@code [offset, offset+length)} that is not yet
     * present, in one call ({@code MADV_POPULATE_WRITE}), instead of one page fault per 4 KiB page
     * when the range is first written. A hint: returns false, and does nothing, where the kernel
     * lacks it (before 5.14) or cannot populate the range now (no memory: the write itself then
     * faults as before).
     */
    public boolean populateWrite(long offset, long length) {
        checkRange(offset, length);
        if (length == 0 || populateUnsupported) {
            return false;
        }
        long start = offset & -PAGE;
        long end = Math.min(segment.byteSize(), (offset + length + PAGE - 1) & -PAGE);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Linker.Option.captureStateLayout());
            int rc = (int) MADVISE.invokeExact(state, segment.asSlice(start, end - start), end - start,
                    MADV_POPULATE_WRITE);
            if (rc != 0 && Libc.errno(state) == EINVAL) {
                populateUnsupported = true; // an older kernel: never ask again
            }
            return rc == 0;
        } catch (Throwable t) {
            return false;
        }
    }

    private void checkRange(long offset, long length) {
        if (offset < 0 || length < 0 || offset + length > segment.byteSize()) {
            throw new IndexOutOfBoundsException("range [" + offset + ", +" + length + ") outside reservation");
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            int rc = (int) MUNMAP.invokeExact(segment, segment.byteSize());
            if (rc != 0) {
                throw new StrataException("munmap failed with rc " + rc);
            }
        } catch (StrataException e) {
            throw e;
        } catch (Throwable t) {
            throw new StrataException("munmap failed", t);
        }
    }
}
