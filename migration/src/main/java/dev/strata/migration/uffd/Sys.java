package dev.strata.migration.uffd;

import dev.strata.core.Libc;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The Linux calls the userfaultfd frontend needs, as {@code java.lang.foreign} downcalls (x86-64):
 * userfaultfd via {@code syscall}, ioctl, memfd_create/ftruncate/fallocate, mmap/munmap/madvise/mincore,
 * AF_UNIX sockets with {@code sendmsg}/{@code recvmsg} (SCM_RIGHTS), poll, open/read/pread/write, close. Every call captures errno and
 * throws an {@link IOException} naming the call on failure, except where a caller asks for the raw
 * result ({@code *Raw}). Stateless; thread-safe.
 */
@SuppressWarnings("restricted")
final class Sys {
    private Sys() {}

    static final int O_NONBLOCK = 0x800;
    static final int O_CLOEXEC = 0x80000;
    static final long SYS_USERFAULTFD = 323;
    static final int UFFD_USER_MODE_ONLY = 1;
    static final long UFFD_API = 0xAA;
    static final long UFFDIO_API = 0xC018AA3FL;
    static final long UFFDIO_REGISTER = 0xC020AA00L;
    static final long UFFDIO_UNREGISTER = 0x8010AA01L;
    static final long UFFDIO_COPY = 0xC028AA03L;
    static final long UFFDIO_WAKE = 0x8010AA02L;
    static final long UFFD_FEATURE_WP_HUGETLBFS_SHMEM = 1 << 12;
    static final int MFD_CLOEXEC = 1;
    static final int MAP_SHARED = 1;
    static final int MADV_POPULATE_READ = 22;
    static final int FALLOC_FL_KEEP_SIZE_PUNCH_HOLE = 1 | 2;
    static final int O_RDONLY = 0;
    static final long UFFDIO_REGISTER_MODE_MISSING = 1;
    static final long UFFDIO_REGISTER_MODE_WP = 2;
    static final long UFFDIO_WRITEPROTECT = 0xC018AA06L;
    static final long UFFDIO_WRITEPROTECT_MODE_WP = 1;
    static final long UFFDIO_COPY_MODE_WP = 2;
    static final long UFFD_FEATURE_PAGEFAULT_FLAG_WP = 1;
    static final long UFFD_PAGEFAULT_FLAG_WP = 2;
    static final int UFFD_EVENT_PAGEFAULT = 0x12;
    static final int PROT_READ = 1;
    static final int PROT_WRITE = 2;
    static final int AF_UNIX = 1;
    static final int SOCK_STREAM = 1;
    static final int SOCK_CLOEXEC = 0x80000;
    static final int SOL_SOCKET = 1;
    static final int SCM_RIGHTS = 1;
    static final short POLLIN = 1;
    static final int EAGAIN = 11;
    static final int EEXIST = 17;
    static final int EINTR = 4;
    static final int ENOENT = 2;


    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;
    private static final java.lang.foreign.AddressLayout A = ValueLayout.ADDRESS;

    private static MethodHandle h(String name, FunctionDescriptor fd, Linker.Option... extra) {
        return Libc.downcall(name, fd, extra);
    }

    private static final MethodHandle SYSCALL = h("syscall", FunctionDescriptor.of(L, L, I),
            Linker.Option.firstVariadicArg(1));
    private static final MethodHandle IOCTL = h("ioctl", FunctionDescriptor.of(I, I, L, A),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle MMAP = h("mmap", FunctionDescriptor.of(A, A, L, I, I, I, L));
    private static final MethodHandle MUNMAP = h("munmap", FunctionDescriptor.of(I, A, L));
    private static final MethodHandle MADVISE = h("madvise", FunctionDescriptor.of(I, A, L, I));
    private static final MethodHandle SOCKET = h("socket", FunctionDescriptor.of(I, I, I, I));
    private static final MethodHandle BIND = h("bind", FunctionDescriptor.of(I, I, A, I));
    private static final MethodHandle LISTEN = h("listen", FunctionDescriptor.of(I, I, I));
    private static final MethodHandle ACCEPT = h("accept", FunctionDescriptor.of(I, I, A, A));
    private static final MethodHandle CONNECT = h("connect", FunctionDescriptor.of(I, I, A, I));
    private static final MethodHandle SENDMSG = h("sendmsg", FunctionDescriptor.of(L, I, A, I));
    private static final MethodHandle RECVMSG = h("recvmsg", FunctionDescriptor.of(L, I, A, I));
    private static final MethodHandle READ = h("read", FunctionDescriptor.of(L, I, A, L));
    private static final MethodHandle WRITE = h("write", FunctionDescriptor.of(L, I, A, L));
    private static final MethodHandle POLL = h("poll", FunctionDescriptor.of(I, A, L, I));
    private static final MethodHandle CLOSE = h("close", FunctionDescriptor.of(I, I));
    private static final MethodHandle MINCORE = h("mincore", FunctionDescriptor.of(I, A, L, A));
    private static final MethodHandle MEMFD_CREATE = h("memfd_create", FunctionDescriptor.of(I, A, I));
    private static final MethodHandle FTRUNCATE = h("ftruncate", FunctionDescriptor.of(I, I, L));
    private static final MethodHandle FALLOCATE = h("fallocate", FunctionDescriptor.of(I, I, I, L, L));
    private static final MethodHandle OPEN = h("open", FunctionDescriptor.of(I, A, I), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle FSTAT = h("fstat", FunctionDescriptor.of(I, I, A));
    private static final MethodHandle PREAD = h("pread", FunctionDescriptor.of(L, I, A, L, L));

    /** An anonymous memory file of {@code size} bytes (memfd_create + ftruncate), close-on-exec. */
    static int memfd(String name, long size) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            int fd = (int) MEMFD_CREATE.invokeExact(st, a.allocateFrom(name), MFD_CLOEXEC);
            if (fd < 0) {
                throw fail("memfd_create", st);
            }
            if ((int) FTRUNCATE.invokeExact(st, fd, size) != 0) {
                IOException e = fail("ftruncate", st);
                close(fd);
                throw e;
            }
            return fd;
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** Bytes allocated to a file (fstat {@code st_blocks} * 512; x86-64 {@code struct stat}). */
    static long allocatedBytes(int fd) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            MemorySegment stat = a.allocate(144, 8);
            if ((int) FSTAT.invokeExact(st, fd, stat) != 0) {
                throw fail("fstat", st);
            }
            return stat.get(L, 64) * 512;
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** open(path, O_RDONLY | O_CLOEXEC). */
    static int openReadOnly(String path) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            int fd = (int) OPEN.invokeExact(st, a.allocateFrom(path), O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                throw fail("open " + path, st);
            }
            return fd;
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** Frees a range of a memory file (and unmaps it from every process): fallocate PUNCH_HOLE. */
    static void punchHole(int fd, long offset, long length) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            if ((int) FALLOCATE.invokeExact(st, fd, FALLOC_FL_KEEP_SIZE_PUNCH_HOLE, offset, length) != 0) {
                throw fail("fallocate(PUNCH_HOLE)", st);
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** Reads exactly {@code dst.byteSize()} bytes at {@code offset} (pread); short only at end of file. */
    static void pread(int fd, MemorySegment dst, long offset) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            long done = 0;
            while (done < dst.byteSize()) {
                long n = (long) PREAD.invokeExact(st, fd, dst.asSlice(done), dst.byteSize() - done, offset + done);
                if (n < 0 && errno(st) == EINTR) {
                    continue;
                }
                if (n < 0) {
                    throw fail("pread", st);
                }
                if (n == 0) {
                    dst.asSlice(done).fill((byte) 0);
                    return;
                }
                done += n;
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** Maps {@code size} bytes of {@code fd} shared ({@code writable}: read-write, else read-only). */
    static MemorySegment mmapShared(int fd, long size, boolean writable) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            MemorySegment addr = (MemorySegment) MMAP.invokeExact(st, MemorySegment.NULL, size,
                    writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0L);
            if (addr.address() == -1L) {
                throw fail("mmap", st);
            }
            return addr.reinterpret(size);
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** Prefaults page tables of a mapped range for reading (MADV_POPULATE_READ); false if unsupported or failed. */
    static boolean populateRead(MemorySegment range, MemorySegment st) {
        try {
            return (int) MADVISE.invokeExact(st, range, range.byteSize(), MADV_POPULATE_READ) == 0;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** Wakes threads faulting in a range (UFFDIO_WAKE); returns 0 or -errno. */
    static int wake(int uffd, long start, long len, MemorySegment arg, MemorySegment st) {
        arg.set(L, 0, start);
        arg.set(L, 8, len);
        return ioctlRaw(uffd, UFFDIO_WAKE, arg, st);
    }

    /** True if the page at {@code page} (of a mapping) is resident (mincore); {@code vec} is one byte. */
    static boolean pageResident(MemorySegment page, MemorySegment vec, MemorySegment st) throws IOException {
        try {
            if ((int) MINCORE.invokeExact(st, page, page.byteSize(), vec) != 0) {
                throw fail("mincore", st);
            }
            return (vec.get(ValueLayout.JAVA_BYTE, 0) & 1) != 0;
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** Write-protects ({@code protect}) or unprotects and wakes a page range; returns 0 or -errno. */
    static int writeProtect(int uffd, long start, long len, boolean protect, MemorySegment arg, MemorySegment st) {
        arg.set(L, 0, start);
        arg.set(L, 8, len);
        arg.set(L, 16, protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0);
        return ioctlRaw(uffd, UFFDIO_WRITEPROTECT, arg, st);
    }

    /** Pages of {@code range} resident in memory (mincore). */
    static long residentPages(MemorySegment range) throws IOException {
        long pages = (range.byteSize() + 4095) / 4096;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            MemorySegment vec = a.allocate(pages);
            if ((int) MINCORE.invokeExact(st, range, range.byteSize(), vec) != 0) {
                throw fail("mincore", st);
            }
            long n = 0;
            for (long i = 0; i < pages; i++) {
                n += vec.get(ValueLayout.JAVA_BYTE, i) & 1;
            }
            return n;
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** Reads exactly {@code buf.byteSize()} bytes from a blocking fd; false on EOF or error. */
    static boolean readFully(int fd, MemorySegment buf, MemorySegment st) {
        long done = 0;
        while (done < buf.byteSize()) {
            long n = readRaw(fd, buf.asSlice(done), st);
            if (n == -EINTR || n == -EAGAIN) {
                continue;
            }
            if (n <= 0) {
                return false;
            }
            done += n;
        }
        return true;
    }

    /** A per-call errno capture buffer (thread-confined arena of the caller). */
    static MemorySegment state(Arena arena) {
        return Libc.callState(arena);
    }

    static int errno(MemorySegment state) {
        return Libc.errno(state);
    }

    private static IOException fail(String call, MemorySegment state) {
        return Libc.error(call, state);
    }

    private static RuntimeException wrap(Throwable t) {
        return t instanceof RuntimeException r ? r : new IllegalStateException(t);
    }

    static int userfaultfd(int flags) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            long fd = (long) SYSCALL.invokeExact(st, SYS_USERFAULTFD, flags);
            if (fd < 0) {
                throw fail("userfaultfd", st);
            }
            return (int) fd;
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** ioctl; returns 0 or -errno. */
    static int ioctlRaw(int fd, long request, MemorySegment arg, MemorySegment st) {
        try {
            int rc = (int) IOCTL.invokeExact(st, fd, request, arg);
            return rc < 0 ? -errno(st) : rc;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    static void ioctl(int fd, long request, MemorySegment arg, String what) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            int rc = ioctlRaw(fd, request, arg, state(a));
            if (rc < 0) {
                throw new IOException(what + " failed: errno " + -rc);
            }
        }
    }

    static void munmap(MemorySegment seg) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            if ((int) MUNMAP.invokeExact(st, seg, seg.byteSize()) != 0) {
                throw fail("munmap", st);
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    private static MemorySegment sockaddr(Arena a, String path) {
        byte[] p = path.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        if (p.length >= 108) {
            throw new IllegalArgumentException("unix socket path too long: " + path);
        }
        MemorySegment sa = a.allocate(110);
        sa.set(ValueLayout.JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(p, 0, sa, ValueLayout.JAVA_BYTE, 2, p.length);
        return sa;
    }

    /** A listening AF_UNIX stream socket bound to {@code path}. */
    static int listenUnix(String path) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            int fd = (int) SOCKET.invokeExact(st, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                throw fail("socket", st);
            }
            if ((int) BIND.invokeExact(st, fd, sockaddr(a, path), 110) != 0
                    || (int) LISTEN.invokeExact(st, fd, 1) != 0) {
                IOException e = fail("bind/listen " + path, st);
                close(fd);
                throw e;
            }
            return fd;
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** Waits up to {@code timeoutMs} for a connection; returns its fd or -1 on timeout. */
    static int accept(int listenFd, int timeoutMs) throws IOException {
        if (!pollIn(listenFd, timeoutMs)) {
            return -1;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            int fd = (int) ACCEPT.invokeExact(st, listenFd, MemorySegment.NULL, MemorySegment.NULL);
            if (fd < 0) {
                throw fail("accept", st);
            }
            return fd;
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    static int connectUnix(String path) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            int fd = (int) SOCKET.invokeExact(st, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                throw fail("socket", st);
            }
            if ((int) CONNECT.invokeExact(st, fd, sockaddr(a, path), 110) != 0) {
                IOException e = fail("connect " + path, st);
                close(fd);
                throw e;
            }
            return fd;
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** Sends {@code payload} with file descriptors attached (SCM_RIGHTS, at most 4). */
    static void sendFds(int sock, int[] fds, byte[] payload) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            MemorySegment data = a.allocate(payload.length);
            MemorySegment.copy(payload, 0, data, ValueLayout.JAVA_BYTE, 0, payload.length);
            MemorySegment iov = a.allocate(16, 8);
            iov.set(A, 0, data);
            iov.set(L, 8, payload.length);
            if (fds.length < 1 || fds.length > 4) {
                throw new IllegalArgumentException("1 to 4 fds");
            }
            long space = 16 + (4L * fds.length + 7) / 8 * 8; // CMSG_SPACE(n * sizeof(int))
            MemorySegment cmsg = a.allocate(space, 8);
            cmsg.set(L, 0, 16 + 4L * fds.length); // CMSG_LEN(n * sizeof(int))
            cmsg.set(I, 8, SOL_SOCKET);
            cmsg.set(I, 12, SCM_RIGHTS);
            for (int i = 0; i < fds.length; i++) {
                cmsg.set(I, 16 + 4L * i, fds[i]);
            }
            MemorySegment msg = a.allocate(56, 8);
            msg.set(A, 16, iov);
            msg.set(L, 24, 1);
            msg.set(A, 32, cmsg);
            msg.set(L, 40, space);
            long n = (long) SENDMSG.invokeExact(st, sock, msg, 0);
            if (n != payload.length) {
                throw n < 0 ? fail("sendmsg", st) : new IOException("sendmsg sent " + n + " of " + payload.length);
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** Receives exactly {@code payload.length} bytes and the {@code count} file descriptors attached to them. */
    static int[] recvFds(int sock, byte[] payload, int count) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            MemorySegment data = a.allocate(payload.length);
            MemorySegment iov = a.allocate(16, 8);
            iov.set(A, 0, data);
            iov.set(L, 8, payload.length);
            long space = 16 + (4L * count + 7) / 8 * 8;
            MemorySegment cmsg = a.allocate(space, 8);
            MemorySegment msg = a.allocate(56, 8);
            msg.set(A, 16, iov);
            msg.set(L, 24, 1);
            msg.set(A, 32, cmsg);
            msg.set(L, 40, space);
            long n = (long) RECVMSG.invokeExact(st, sock, msg, 0);
            if (n != payload.length) {
                throw n < 0 ? fail("recvmsg", st) : new IOException("recvmsg got " + n + " of " + payload.length);
            }
            if (msg.get(L, 40) < 16 + 4L * count || cmsg.get(L, 0) != 16 + 4L * count
                    || cmsg.get(I, 8) != SOL_SOCKET || cmsg.get(I, 12) != SCM_RIGHTS) {
                throw new IOException("expected " + count + " file descriptors attached");
            }
            MemorySegment.copy(data, ValueLayout.JAVA_BYTE, 0, payload, 0, payload.length);
            int[] fds = new int[count];
            for (int i = 0; i < count; i++) {
                fds[i] = cmsg.get(I, 16 + 4L * i);
            }
            return fds;
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** read(2); returns bytes read, or -errno. */
    static long readRaw(int fd, MemorySegment buf, MemorySegment st) {
        try {
            long n = (long) READ.invokeExact(st, fd, buf, buf.byteSize());
            return n < 0 ? -errno(st) : n;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    static long write(int fd, MemorySegment buf) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            long n = (long) WRITE.invokeExact(st, fd, buf, buf.byteSize());
            if (n < 0) {
                throw fail("write", st);
            }
            return n;
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** True if {@code fd} became readable (or hung up) within {@code timeoutMs}. */
    static boolean pollIn(int fd, int timeoutMs) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            MemorySegment pfd = a.allocate(8, 4);
            pfd.set(I, 0, fd);
            pfd.set(ValueLayout.JAVA_SHORT, 4, POLLIN);
            int rc = (int) POLL.invokeExact(st, pfd, 1L, timeoutMs);
            if (rc < 0) {
                if (errno(st) == EINTR) {
                    return false;
                }
                throw fail("poll", st);
            }
            return rc > 0;
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    static void close(int fd) {
        if (fd < 0) {
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            int ignored = (int) CLOSE.invokeExact(state(a), fd);
        } catch (Throwable t) {
            throw wrap(t);
        }
    }
}
