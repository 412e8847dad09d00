package dev.strata.storage.internal;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A file opened through libc ({@code open}/{@code pread}/{@code pwrite}/{@code fdatasync}/{@code fsync}/
 * {@code ftruncate}/{@code fallocate}/{@code close} as {@code java.lang.foreign} downcalls) on a raw descriptor,
 * for positional I/O only.
 *
 * <p>Why not {@code FileChannel}: a {@code FileChannel} is interruptible — when a thread blocked in (or entering)
 * one of its operations is interrupted, the JDK closes the channel for every thread. Here an interrupt changes
 * nothing: the calls run to completion and the thread keeps its interrupt status for its own code to see.
 *
 * <p>Errors: {@code errno} is captured with each call ({@link Linker.Option#captureCallState}) and turned into an
 * {@link IOException} naming the call, the file, the errno and its message ({@link NoSuchFileException},
 * {@link FileAlreadyExistsException} and {@link AccessDeniedException} where they apply). {@code EINTR} is
 * retried and short reads and writes are continued, so every method either does all it says or throws.
 *
 * <p>Memory: native segments are passed to the kernel as they are (no copy); heap segments go through a
 * temporary native buffer, since the downcalls do not take heap memory.
 *
 * <p>Thread-safe. {@link #close} is idempotent and waits for calls in progress on other threads, so the descriptor
 * is never closed (and its number reused by another open) under a running {@code pread}/{@code pwrite}; calls
 * that start after it fail with an {@link IOException}.
 */
@SuppressWarnings("restricted") // downcalls need --enable-native-access, as for NativeMemory in core
public final class NativeFile implements AutoCloseable {
    // fcntl.h values shared by the Linux ABIs the JDK runs on (x86_64, aarch64, riscv64)
    static final int O_RDONLY = 0;
    static final int O_WRONLY = 1;
    static final int O_RDWR = 2;
    static final int O_CREAT = 0100;
    static final int O_EXCL = 0200;
    static final int O_TRUNC = 01000;
    static final int O_CLOEXEC = 02000000;
    private static final int CREATE_MODE = 0666; // narrowed by the umask, as for Files.newOutputStream
    private static final int SEEK_END = 2;
    private static final int EINTR = 4;
    private static final int EINVAL = 22;
    private static final int EFBIG = 27;
    private static final long BOUNCE_LIMIT = 1 << 20;

    private static final MethodHandle OPEN;
    private static final MethodHandle CLOSE;
    private static final MethodHandle PREAD;
    private static final MethodHandle PWRITE;
    private static final MethodHandle FSYNC;
    private static final MethodHandle FDATASYNC;
    private static final MethodHandle FTRUNCATE;
    private static final MethodHandle FALLOCATE;
    private static final MethodHandle LSEEK;
    private static final MethodHandle FADVISE;
    private static final int POSIX_FADV_WILLNEED = 3;
    private static final int POSIX_FADV_DONTNEED = 4;
    private static final MethodHandle STRERROR;
    private static final VarHandle ERRNO;
    private static final ThreadLocal<MemorySegment> CALL_STATE;

    static {
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        Linker.Option errno = Linker.Option.captureCallState("errno");
        ValueLayout i32 = ValueLayout.JAVA_INT;
        ValueLayout i64 = ValueLayout.JAVA_LONG;
        OPEN = linker.downcallHandle(libc.find("open").orElseThrow(),
                FunctionDescriptor.of(i32, ValueLayout.ADDRESS, i32, i32), errno, Linker.Option.firstVariadicArg(2));
        CLOSE = linker.downcallHandle(libc.find("close").orElseThrow(), FunctionDescriptor.of(i32, i32), errno);
        PREAD = linker.downcallHandle(libc.find("pread").orElseThrow(),
                FunctionDescriptor.of(i64, i32, ValueLayout.ADDRESS, i64, i64), errno);
        PWRITE = linker.downcallHandle(libc.find("pwrite").orElseThrow(),
                FunctionDescriptor.of(i64, i32, ValueLayout.ADDRESS, i64, i64), errno);
        FSYNC = linker.downcallHandle(libc.find("fsync").orElseThrow(), FunctionDescriptor.of(i32, i32), errno);
        FDATASYNC = linker.downcallHandle(libc.find("fdatasync").orElseThrow(), FunctionDescriptor.of(i32, i32),
                errno);
        FTRUNCATE = linker.downcallHandle(libc.find("ftruncate").orElseThrow(), FunctionDescriptor.of(i32, i32, i64),
                errno);
        FALLOCATE = linker.downcallHandle(libc.find("fallocate").orElseThrow(),
                FunctionDescriptor.of(i32, i32, i32, i64, i64), errno);
        LSEEK = linker.downcallHandle(libc.find("lseek").orElseThrow(), FunctionDescriptor.of(i64, i32, i64, i32),
                errno);
        FADVISE = linker.downcallHandle(libc.find("posix_fadvise").orElseThrow(),
                FunctionDescriptor.of(i32, i32, i64, i64, i32));
        STRERROR = linker.downcallHandle(libc.find("strerror").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS, i32));
        MemoryLayout state = Linker.Option.captureStateLayout();
        ERRNO = state.varHandle(MemoryLayout.PathElement.groupElement("errno"));
        // one capture buffer per thread, freed with the thread (automatic arena)
        CALL_STATE = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(state));
    }

    private static final long CLOSED = 1L << 62;

    private final Path path;
    private final int fd;
    /** {@link #CLOSED} bit plus the number of calls in progress. */
    private final AtomicLong state = new AtomicLong();

    private NativeFile(Path path, int fd) {
        this.path = path;
        this.fd = fd;
    }

    /** Opens an existing file for reading. */
    public static NativeFile openRead(Path path) throws IOException {
        return open(path, O_RDONLY);
    }

    /** Opens an existing file for reading and writing. */
    public static NativeFile openReadWrite(Path path) throws IOException {
        return open(path, O_RDWR);
    }

    /** Opens a file for reading and writing, creating it empty if absent. */
    public static NativeFile openOrCreate(Path path) throws IOException {
        return open(path, O_RDWR | O_CREAT);
    }

    /** Creates a new, empty file for reading and writing; fails if it exists. */
    public static NativeFile createNew(Path path) throws IOException {
        return open(path, O_RDWR | O_CREAT | O_EXCL);
    }

    /** Creates or truncates a file for reading and writing. */
    public static NativeFile createTruncate(Path path) throws IOException {
        return open(path, O_RDWR | O_CREAT | O_TRUNC);
    }

    static NativeFile open(Path path, int flags) throws IOException {
        MemorySegment callState = CALL_STATE.get();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment name = arena.allocateFrom(path.toString());
            while (true) {
                int fd = (int) OPEN.invokeExact(callState, name, flags | O_CLOEXEC, CREATE_MODE);
                if (fd >= 0) {
                    return new NativeFile(path, fd);
                }
                int errno = errno(callState);
                if (errno != EINTR) {
                    throw error("open", path, errno);
                }
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Makes creations, renames and deletions of entries in directory {@code dir} durable ({@code fsync} on it). */
    public static void fsyncDirectory(Path dir) throws IOException {
        try (NativeFile d = open(dir, O_RDONLY)) {
            d.fsync();
        }
    }

    public Path path() {
        return path;
    }

    /** The file's size ({@code lseek(SEEK_END)}; only positional I/O is done here, so the offset is unused). */
    public long size() throws IOException {
        acquire();
        try {
            MemorySegment callState = CALL_STATE.get();
            long size = (long) LSEEK.invokeExact(callState, fd, 0L, SEEK_END);
            if (size < 0) {
                throw error("lseek", path, errno(callState));
            }
            return size;
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        } finally {
            release();
        }
    }

    /**
     * Reads {@code dst.byteSize()} bytes at {@code position} into {@code dst}, fewer only at the end of the file.
     *
     * @return the number of bytes read
     */
    public long read(long position, MemorySegment dst) throws IOException {
        checkPosition(position);
        if (dst.isNative()) {
            return readNative(position, dst);
        }
        long done = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bounce = arena.allocate(Math.min(dst.byteSize(), BOUNCE_LIMIT));
            while (done < dst.byteSize()) {
                long want = Math.min(bounce.byteSize(), dst.byteSize() - done);
                long read = readNative(position + done, bounce.asSlice(0, want));
                MemorySegment.copy(bounce, 0, dst, done, read);
                done += read;
                if (read < want) {
                    break;
                }
            }
        }
        return done;
    }

    private long readNative(long position, MemorySegment dst) throws IOException {
        acquire();
        try {
            MemorySegment callState = CALL_STATE.get();
            long done = 0;
            long length = dst.byteSize();
            while (done < length) {
                long n = (long) PREAD.invokeExact(callState, fd, dst.asSlice(done), length - done, position + done);
                if (n > 0) {
                    done += n;
                } else if (n == 0) {
                    break; // end of file
                } else {
                    int errno = errno(callState);
                    if (errno != EINTR) {
                        throw error("pread", path, errno);
                    }
                }
            }
            return done;
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        } finally {
            release();
        }
    }

    /** Reads exactly {@code dst.byteSize()} bytes at {@code position}; hitting the end of the file is an error. */
    public void readFully(long position, MemorySegment dst) throws IOException {
        long read = read(position, dst);
        if (read < dst.byteSize()) {
            throw new IOException(path + " ends at " + (position + read) + ", expected " + dst.byteSize()
                    + " bytes at " + position);
        }
    }

    /** Writes all of {@code src} at {@code position}, growing the file if needed. */
    public void write(long position, MemorySegment src) throws IOException {
        checkPosition(position);
        if (src.isNative()) {
            writeNative(position, src);
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bounce = arena.allocate(Math.min(src.byteSize(), BOUNCE_LIMIT));
            for (long done = 0; done < src.byteSize(); ) {
                long n = Math.min(bounce.byteSize(), src.byteSize() - done);
                MemorySegment.copy(src, done, bounce, 0, n);
                writeNative(position + done, bounce.asSlice(0, n));
                done += n;
            }
        }
    }

    private void writeNative(long position, MemorySegment src) throws IOException {
        acquire();
        try {
            MemorySegment callState = CALL_STATE.get();
            long done = 0;
            long length = src.byteSize();
            while (done < length) {
                long n = (long) PWRITE.invokeExact(callState, fd, src.asSlice(done), length - done, position + done);
                if (n > 0) {
                    done += n;
                } else if (n == 0) {
                    throw new IOException("pwrite " + path + ": wrote nothing at " + (position + done));
                } else {
                    int errno = errno(callState);
                    if (errno != EINTR) {
                        throw error("pwrite", path, errno);
                    }
                }
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        } finally {
            release();
        }
    }

    /** {@code fdatasync}: the data, and the metadata needed to read it back (e.g. a grown size), are durable. */
    public void fdatasync() throws IOException {
        simple(FDATASYNC, "fdatasync");
    }

    /** {@code fsync}: data and all metadata are durable. */
    public void fsync() throws IOException {
        simple(FSYNC, "fsync");
    }

    private void simple(MethodHandle call, String name) throws IOException {
        acquire();
        try {
            MemorySegment callState = CALL_STATE.get();
            while ((int) call.invokeExact(callState, fd) != 0) {
                int errno = errno(callState);
                if (errno != EINTR) {
                    throw error(name, path, errno);
                }
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        } finally {
            release();
        }
    }

    /** {@code ftruncate}: cuts the file to, or extends it with zeros (a hole) up to, {@code size} bytes. */
    public void truncate(long size) throws IOException {
        checkPosition(size);
        acquire();
        try {
            MemorySegment callState = CALL_STATE.get();
            while ((int) FTRUNCATE.invokeExact(callState, fd, size) != 0) {
                int errno = errno(callState);
                if (errno != EINTR) {
                    throw error("ftruncate", path, errno);
                }
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        } finally {
            release();
        }
    }

    /**
     * The largest size, a multiple of {@code granule} and at most {@code atMost}, that the file system under
     * {@code scratch} accepts for a file (its {@code s_maxbytes}, or {@code RLIMIT_FSIZE} if lower). Found by
     * {@code ftruncate}-ing a scratch file ({@code EFBIG} or {@code EINVAL} above the limit), which is created at
     * {@code scratch} (replacing a leftover) and deleted again; it never holds data, so this costs no space.
     */
    public static long maxFileSize(Path scratch, long atMost, long granule) throws IOException {
        long fits = 0; // in granules; hi never fits
        long hi = atMost / granule + 1;
        try (NativeFile probe = createTruncate(scratch)) {
            while (hi - fits > 1) {
                long mid = fits + (hi - fits) / 2;
                if (probe.truncateIfFits(mid * granule)) {
                    fits = mid;
                } else {
                    hi = mid;
                }
            }
            probe.truncate(0);
        } finally {
            Files.deleteIfExists(scratch);
        }
        return fits * granule;
    }

    private boolean truncateIfFits(long size) throws IOException {
        acquire();
        try {
            MemorySegment callState = CALL_STATE.get();
            while ((int) FTRUNCATE.invokeExact(callState, fd, size) != 0) {
                int errno = errno(callState);
                if (errno == EFBIG || errno == EINVAL) {
                    return false;
                }
                if (errno != EINTR) {
                    throw error("ftruncate", path, errno);
                }
            }
            return true;
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        } finally {
            release();
        }
    }

    /**
     * {@code fallocate(mode 0)}: reserves blocks for {@code [offset, offset + length)}, growing the size if needed;
     * the range reads as zeros where it held nothing. The blocks stay "unwritten" extents on most file systems,
     * so the first write into them still changes metadata.
     */
    public void allocate(long offset, long length) throws IOException {
        checkPosition(offset);
        checkPosition(length);
        acquire();
        try {
            MemorySegment callState = CALL_STATE.get();
            while ((int) FALLOCATE.invokeExact(callState, fd, 0, offset, length) != 0) {
                int errno = errno(callState);
                if (errno != EINTR) {
                    throw error("fallocate", path, errno);
                }
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        } finally {
            release();
        }
    }

    /**
     * {@code posix_fadvise(POSIX_FADV_WILLNEED)}: asks the kernel to start reading {@code [offset, offset + length)}
     * into the page cache without waiting for it, so that a later {@link #read} of the range finds it there. A hint:
     * returns false (and does nothing else) if the kernel refused it or the file is closed.
     */
    public boolean willNeed(long offset, long length) {
        return advise(offset, length, POSIX_FADV_WILLNEED);
    }

    /**
     * {@code posix_fadvise(POSIX_FADV_DONTNEED)}: asks the kernel to drop the clean cached pages of
     * {@code [offset, offset + length)} (dirty ones stay until written back). A hint: returns false (and does
     * nothing else) if the kernel refused it or the file is closed.
     */
    public boolean dontNeed(long offset, long length) {
        return advise(offset, length, POSIX_FADV_DONTNEED);
    }

    private boolean advise(long offset, long length, int advice) {
        if (offset < 0 || length <= 0) {
            return false;
        }
        try {
            acquire();
        } catch (IOException closed) {
            return false;
        }
        try {
            return (int) FADVISE.invokeExact(fd, offset, length, advice) == 0;
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        } finally {
            release();
        }
    }

    private static void checkPosition(long value) {
        if (value < 0) {
            throw new IllegalArgumentException("negative file position or size: " + value);
        }
    }

    private void acquire() throws IOException {
        if ((state.getAndIncrement() & CLOSED) != 0) {
            state.getAndDecrement();
            throw new IOException("file " + path + " is closed");
        }
    }

    private void release() {
        state.getAndDecrement();
    }

    public boolean isOpen() {
        return (state.get() & CLOSED) == 0;
    }

    /** Closes the descriptor once calls in progress on other threads have returned. Idempotent. */
    @Override
    public void close() throws IOException {
        long before = state.getAndUpdate(s -> s | CLOSED);
        if ((before & CLOSED) != 0) {
            return;
        }
        while ((state.get() & ~CLOSED) != 0) {
            LockSupport.parkNanos(10_000); // a pread/pwrite/fsync on another thread: bounded by the I/O
        }
        try {
            MemorySegment callState = CALL_STATE.get();
            // no EINTR retry: Linux releases the descriptor even when close reports EINTR
            if ((int) CLOSE.invokeExact(callState, fd) != 0) {
                throw error("close", path, errno(callState));
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    private static int errno(MemorySegment callState) {
        return (int) ERRNO.get(callState, 0L);
    }

    static IOException error(String call, Path path, int errno) {
        String reason = call + " failed: " + errnoName(errno) + " (" + strerror(errno) + ")";
        return switch (errno) {
            case 2 -> new NoSuchFileException(path.toString(), null, reason);
            case 17 -> new FileAlreadyExistsException(path.toString(), null, reason);
            case 1, 13 -> new AccessDeniedException(path.toString(), null, reason);
            default -> new IOException(path + ": " + reason);
        };
    }

    private static String strerror(int errno) {
        try {
            MemorySegment message = (MemorySegment) STRERROR.invokeExact(errno);
            return message.equals(MemorySegment.NULL) ? "?" : message.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "?";
        }
    }

    /** Symbolic name of a Linux errno (asm-generic numbering), or {@code errno <n>}. */
    static String errnoName(int errno) {
        return switch (errno) {
            case 1 -> "EPERM";
            case 2 -> "ENOENT";
            case 4 -> "EINTR";
            case 5 -> "EIO";
            case 6 -> "ENXIO";
            case 9 -> "EBADF";
            case 11 -> "EAGAIN";
            case 12 -> "ENOMEM";
            case 13 -> "EACCES";
            case 14 -> "EFAULT";
            case 16 -> "EBUSY";
            case 17 -> "EEXIST";
            case 18 -> "EXDEV";
            case 19 -> "ENODEV";
            case 20 -> "ENOTDIR";
            case 21 -> "EISDIR";
            case 22 -> "EINVAL";
            case 23 -> "ENFILE";
            case 24 -> "EMFILE";
            case 27 -> "EFBIG";
            case 28 -> "ENOSPC";
            case 29 -> "ESPIPE";
            case 30 -> "EROFS";
            case 36 -> "ENAMETOOLONG";
            case 40 -> "ELOOP";
            case 95 -> "EOPNOTSUPP";
            case 122 -> "EDQUOT";
            default -> "errno " + errno;
        };
    }

    @Override
    public String toString() {
        return "NativeFile[" + path + ", fd=" + fd + (isOpen() ? "" : ", closed") + "]";
    }
}
