package dev.strata.nbd.internal;

import dev.strata.core.Libc;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.net.Inet4Address;
import java.net.InetAddress;

/**
 * The Linux calls the {@code /dev/nbdX} frontend needs, as {@code java.lang.foreign} downcalls
 * (x86-64/aarch64 Linux, glibc): {@code open}, {@code ioctl} with the NBD requests of
 * {@code <linux/nbd.h>}, a TCP {@code socket}/{@code connect} whose descriptor is handed to the kernel,
 * {@code read}/{@code write} for the handshake on it, {@code fsync}, {@code close}. Every call
 * captures errno and throws an {@link IOException} naming the call and the error on failure.
 * Stateless; thread-safe.
 *
 * <p>The request numbers are {@code _IO(0xab, n)} = {@code (0xab << 8) | n} (no direction, no size):
 * <pre>
 *   NBD_SET_SOCK 0xab00   NBD_SET_BLKSIZE 0xab01   NBD_SET_SIZE 0xab02   NBD_DO_IT 0xab03
 *   NBD_CLEAR_SOCK 0xab04 NBD_CLEAR_QUE 0xab05     NBD_SET_SIZE_BLOCKS 0xab07
 *   NBD_DISCONNECT 0xab08 NBD_SET_TIMEOUT 0xab09   NBD_SET_FLAGS 0xab0a
 * </pre>
 */
@SuppressWarnings("restricted")
public final class NbdIoctl {
    private NbdIoctl() {}

    /** {@code _IO(type, nr)} of {@code <asm-generic/ioctl.h>}: direction none, size 0. */
    public static long io(int type, int nr) {
        return ((long) type << 8) | nr;
    }

    public static final long NBD_SET_SOCK = io(0xab, 0);
    public static final long NBD_SET_BLKSIZE = io(0xab, 1);
    public static final long NBD_SET_SIZE = io(0xab, 2);
    public static final long NBD_DO_IT = io(0xab, 3);
    public static final long NBD_CLEAR_SOCK = io(0xab, 4);
    public static final long NBD_CLEAR_QUE = io(0xab, 5);
    public static final long NBD_SET_SIZE_BLOCKS = io(0xab, 7);
    public static final long NBD_DISCONNECT = io(0xab, 8);
    public static final long NBD_SET_TIMEOUT = io(0xab, 9);
    public static final long NBD_SET_FLAGS = io(0xab, 10);

    static final int O_RDWR = 2;
    static final int O_CLOEXEC = 0x80000;
    static final int AF_INET = 2;
    static final int SOCK_STREAM = 1;
    static final int SOCK_CLOEXEC = 0x80000;
    static final int IPPROTO_TCP = 6;
    static final int TCP_NODELAY = 1;
    static final int EINTR = 4;

    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;
    private static final ValueLayout A = ValueLayout.ADDRESS;

    private static MethodHandle h(String name, FunctionDescriptor fd, Linker.Option... extra) {
        return Libc.downcall(name, fd, extra);
    }

    private static final MethodHandle OPEN = h("open", FunctionDescriptor.of(I, A, I, I), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle IOCTL = h("ioctl", FunctionDescriptor.of(I, I, L, L), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle SOCKET = h("socket", FunctionDescriptor.of(I, I, I, I));
    private static final MethodHandle CONNECT = h("connect", FunctionDescriptor.of(I, I, A, I));
    private static final MethodHandle SETSOCKOPT = h("setsockopt", FunctionDescriptor.of(I, I, I, I, A, I));
    private static final MethodHandle READ = h("read", FunctionDescriptor.of(L, I, A, L));
    private static final MethodHandle WRITE = h("write", FunctionDescriptor.of(L, I, A, L));
    private static final MethodHandle FSYNC = h("fsync", FunctionDescriptor.of(I, I));
    private static final MethodHandle CLOSE = h("close", FunctionDescriptor.of(I, I));

    /** Opens a device read-write. */
    public static int openReadWrite(String path) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = Libc.callState(a);
            int fd = (int) OPEN.invokeExact(st, a.allocateFrom(path), O_RDWR | O_CLOEXEC, 0);
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

    /** {@code ioctl(fd, request, arg)}; returns its result (throws on -1). */
    public static int ioctl(int fd, long request, long arg, String what) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = Libc.callState(a);
            int r = (int) IOCTL.invokeExact(st, fd, request, arg);
            if (r < 0) {
                throw fail("ioctl " + what, st);
            }
            return r;
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** A blocking TCP connection (IPv4) with TCP_NODELAY, as a raw descriptor. */
    public static int connectTcp(InetAddress host, int port) throws IOException {
        if (!(host instanceof Inet4Address)) {
            throw new IOException("the nbd device frontend connects over IPv4 only: " + host);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = Libc.callState(a);
            int fd = (int) SOCKET.invokeExact(st, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                throw fail("socket", st);
            }
            try {
                MemorySegment addr = a.allocate(16, 4); // struct sockaddr_in, zero-filled
                addr.set(ValueLayout.JAVA_SHORT, 0, (short) AF_INET);
                addr.set(ValueLayout.JAVA_BYTE, 2, (byte) (port >>> 8)); // sin_port, network order
                addr.set(ValueLayout.JAVA_BYTE, 3, (byte) port);
                MemorySegment.copy(host.getAddress(), 0, addr, ValueLayout.JAVA_BYTE, 4, 4);
                int r;
                do {
                    r = (int) CONNECT.invokeExact(st, fd, addr, 16);
                } while (r < 0 && errno(st) == EINTR);
                if (r < 0) {
                    throw fail("connect " + host.getHostAddress() + ":" + port, st);
                }
                MemorySegment one = a.allocateFrom(I, 1);
                if ((int) SETSOCKOPT.invokeExact(st, fd, IPPROTO_TCP, TCP_NODELAY, one, 4) < 0) {
                    throw fail("setsockopt TCP_NODELAY", st);
                }
                return fd;
            } catch (IOException | RuntimeException e) {
                close(fd);
                throw e;
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** {@code fsync(fd)}. */
    public static void fsync(int fd, String what) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = Libc.callState(a);
            if ((int) FSYNC.invokeExact(st, fd) < 0) {
                throw fail("fsync " + what, st);
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** {@code close(fd)}, ignoring errors (the descriptor is gone either way). */
    public static void close(int fd) {
        if (fd < 0) {
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            int ignored = (int) CLOSE.invokeExact(Libc.callState(a), fd);
        } catch (Throwable t) {
            // nothing to do
        }
    }

    /** A blocking input stream over a descriptor (not closed by the stream). */
    public static InputStream inputStream(int fd) {
        return new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] b = new byte[1];
                return read(b, 0, 1) < 0 ? -1 : b[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (len == 0) {
                    return 0;
                }
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment st = Libc.callState(a);
                    MemorySegment buf = a.allocate(len);
                    long n;
                    do {
                        n = (long) READ.invokeExact(st, fd, buf, (long) len);
                    } while (n < 0 && errno(st) == EINTR);
                    if (n < 0) {
                        throw fail("read", st);
                    }
                    if (n == 0) {
                        return -1;
                    }
                    MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, b, off, (int) n);
                    return (int) n;
                } catch (IOException e) {
                    throw e;
                } catch (Throwable t) {
                    throw wrap(t);
                }
            }
        };
    }

    /** A blocking output stream over a descriptor (not closed by the stream). */
    public static OutputStream outputStream(int fd) {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment st = Libc.callState(a);
                    MemorySegment buf = a.allocate(Math.max(len, 1));
                    MemorySegment.copy(b, off, buf, ValueLayout.JAVA_BYTE, 0, len);
                    long done = 0;
                    while (done < len) {
                        long n = (long) WRITE.invokeExact(st, fd, buf.asSlice(done), len - done);
                        if (n < 0 && errno(st) != EINTR) {
                            throw fail("write", st);
                        }
                        done += Math.max(n, 0);
                    }
                } catch (IOException e) {
                    throw e;
                } catch (Throwable t) {
                    throw wrap(t);
                }
            }
        };
    }

    private static int errno(MemorySegment st) {
        return Libc.errno(st);
    }

    /** The C library's message for an errno value. */
    public static String strerror(int errno) {
        return Libc.strerror(errno);
    }

    private static IOException fail(String what, MemorySegment st) {
        return Libc.error(what, st);
    }

    private static IOException wrap(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error err) {
            throw err;
        }
        return new IOException(t);
    }
}
