package dev.strata.memory.internal;

import static dev.strata.core.remote.RemoteFrameDescriptor.*;

import dev.strata.core.Checksums;
import dev.strata.core.PageSize;
import dev.strata.core.remote.RemoteMemory;
import dev.strata.core.remote.RemoteMemoryException;
import dev.strata.core.remote.RemoteRegion;
import dev.strata.core.remote.RemoteStatus;
import dev.strata.memory.ClientOptions;
import dev.strata.memory.MemoryNodeClient;
import dev.strata.memory.PageRead;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The same wire protocol as {@link TcpClient}, but each calling thread talks over its own
 * connection and does the I/O itself: write the request, wait on its own selector, read the answer
 * header, then read the payload straight from the socket into the caller's segment. No hand-off to
 * an I/O thread and back, which is what a thread blocked on a buffer-pool miss pays for otherwise;
 * one request in flight per thread. Every returned future is already complete.
 *
 * <p>On a timeout or I/O error the thread's connection is closed (so a late answer can never land
 * in a segment the caller reuses) and the node is reported unavailable until the reconnect backoff
 * has passed. Thread-safe; connections are closed by {@link #close}.
 */
public final class SyncTcpClient implements MemoryNodeClient {
    private final InetSocketAddress address;
    private final ClientOptions options;
    private final long pollNanos;
    private final Set<Conn> conns = ConcurrentHashMap.newKeySet();
    private final ThreadLocal<Conn> mine = new ThreadLocal<>();
    private final AtomicInteger inFlight = new AtomicInteger();
    private volatile long retryAt;
    private volatile boolean closed;
    private long ids;

    private final class Conn {
        final SocketChannel ch;
        final Selector selector;
        final ByteBuffer header = ByteBuffer.allocateDirect(HEADER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        final PollBudget poll = new PollBudget(pollNanos);

        Conn(SocketChannel ch, Selector selector) {
            this.ch = ch;
            this.selector = selector;
        }

        void close() {
            conns.remove(this);
            try {
                selector.close();
            } catch (IOException ignored) {
                // closing
            }
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }

    public SyncTcpClient(InetSocketAddress address, ClientOptions options) {
        this.address = address;
        this.options = options;
        this.pollNanos = java.util.concurrent.TimeUnit.MICROSECONDS.toNanos(options.pollMicros());
    }

    private Conn conn() throws IOException {
        Conn c = mine.get();
        if (c != null && c.ch.isOpen()) {
            return c;
        }
        if (closed) {
            throw new RemoteMemoryException(RemoteStatus.UNAVAILABLE, "client closed");
        }
        if (System.nanoTime() - retryAt < 0) {
            throw new RemoteMemoryException(RemoteStatus.UNAVAILABLE, "no connection to " + address + " (backing off)");
        }
        SocketChannel ch = SocketChannel.open();
        try {
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            ch.socket().connect(address, (int) options.connectTimeout().toMillis());
            ch.configureBlocking(false);
            Selector sel = Selector.open();
            ch.register(sel, SelectionKey.OP_READ);
            c = new Conn(ch, sel);
        } catch (IOException | RuntimeException e) {
            ch.close();
            retryAt = System.nanoTime() + options.reconnectBackoff().toNanos();
            throw e;
        }
        conns.add(c);
        mine.set(c);
        if (closed) {
            c.close();
            throw new RemoteMemoryException(RemoteStatus.UNAVAILABLE, "client closed");
        }
        return c;
    }

    /** Answer header fields the callers need. */
    private record Answer(RemoteStatus status, long arg0, long arg1, long arg2, long arg3, int payload) {}

    /**
     * One round trip; the answer's payload (if any) is read into {@code dst}, which must then be
     * exactly as large.
     */
    private Answer call(int op, long a0, long a1, long a2, long a3, MemorySegment payload, MemorySegment dst) {
        inFlight.incrementAndGet();
        Conn c = null;
        try {
            c = conn();
            long id;
            synchronized (this) {
                id = ++ids;
            }
            int plen = payload == null ? 0 : (int) payload.byteSize();
            ByteBuffer h = c.header.clear();
            h.putInt(HEADER_LENGTH + plen).put((byte) op).put((byte) 0).putShort((short) 0).putLong(id)
                    .putLong(a0).putLong(a1).putLong(a2).putLong(a3).flip();
            long deadline = System.nanoTime() + options.requestTimeout().toNanos();
            ByteBuffer body = plen == 0 ? null : payload.asByteBuffer();
            writeFully(c, h, deadline);
            if (body != null) {
                writeFully(c, body, deadline);
            }
            h.clear();
            readFully(c, h, deadline);
            h.flip();
            int len = h.getInt(LENGTH_OFFSET);
            int answerPayload = len - HEADER_LENGTH;
            if (len < HEADER_LENGTH || len > MAX_FRAME || h.getLong(REQUEST_ID_OFFSET) != id
                    || (h.get(OPCODE_OFFSET) & 0xff) != op) {
                throw new IOException("malformed answer from " + address);
            }
            RemoteStatus s = RemoteStatus.of(h.get(STATUS_OFFSET) & 0xff);
            if (answerPayload > 0) {
                if (dst == null || dst.byteSize() != answerPayload) {
                    throw new IOException("answer payload of " + answerPayload + " bytes does not fit");
                }
                readFully(c, dst.asByteBuffer(), deadline);
            }
            return new Answer(s, h.getLong(ARG0_OFFSET), h.getLong(ARG1_OFFSET), h.getLong(ARG2_OFFSET),
                    h.getLong(ARG3_OFFSET), answerPayload);
        } catch (IOException e) {
            if (c != null) {
                c.close();
            }
            retryAt = System.nanoTime() + options.reconnectBackoff().toNanos();
            throw new RemoteMemoryException(e instanceof TimeoutIOException ? RemoteStatus.TIMEOUT : RemoteStatus.UNAVAILABLE,
                    e.getMessage(), e);
        } finally {
            inFlight.decrementAndGet();
        }
    }

    private static final class TimeoutIOException extends IOException {
        TimeoutIOException(String m) {
            super(m);
        }
    }

    private void writeFully(Conn c, ByteBuffer b, long deadline) throws IOException {
        while (b.hasRemaining()) {
            if (c.ch.write(b) == 0) {
                c.ch.keyFor(c.selector).interestOps(SelectionKey.OP_WRITE);
                await(c, deadline);
                c.ch.keyFor(c.selector).interestOps(SelectionKey.OP_READ);
            }
        }
    }

    private void readFully(Conn c, ByteBuffer b, long deadline) throws IOException {
        long pollUntil = 0;
        boolean polling = false;
        while (b.hasRemaining()) {
            int n = c.ch.read(b);
            if (n < 0) {
                throw new IOException("connection to " + address + " closed");
            }
            if (n > 0 && polling) {
                c.poll.hit();
                polling = false;
            }
            if (n == 0) {
                // poll a little before sleeping in select: an answer due within microseconds is
                // then read without the scheduler's wake-up latency
                long now = System.nanoTime();
                if (pollUntil == 0) {
                    pollUntil = c.poll.windowEnd(now);
                    polling = pollUntil != now;
                }
                if (polling && now - pollUntil < 0) {
                    PollBudget.spin();
                } else {
                    if (polling) {
                        c.poll.miss(now);
                        polling = false;
                    }
                    await(c, deadline);
                }
            }
        }
    }

    private void await(Conn c, long deadline) throws IOException {
        long left = (deadline - System.nanoTime()) / 1_000_000;
        try {
            if (left <= 0 || c.selector.select(Math.max(1, left)) == 0 && System.nanoTime() - deadline > 0) {
                throw new TimeoutIOException("no answer from " + address + " within " + options.requestTimeout().toMillis() + " ms");
            }
            c.selector.selectedKeys().clear();
        } catch (java.nio.channels.ClosedSelectorException e) {
            throw new IOException("client closed", e);
        }
    }

    private static <T> CompletableFuture<T> failed(RuntimeException e) {
        return CompletableFuture.failedFuture(e);
    }

    private static RemoteMemoryException error(RemoteStatus s) {
        return new RemoteMemoryException(s, "memory node answered " + s);
    }

    // ---- PageMemory

    @Override
    public CompletableFuture<PageRead> get(long pageId, int sizeClass, MemorySegment dst) {
        if (dst.byteSize() != PageSize.bytes(sizeClass)) {
            throw new IllegalArgumentException("destination is " + dst.byteSize() + " bytes, page is " + PageSize.bytes(sizeClass));
        }
        try {
            Answer a = call(OP_PAGE_GET, pageId, 0, 0, crcAndClass(0, sizeClass), null, dst);
            if (a.status == RemoteStatus.NOT_FOUND) {
                return CompletableFuture.completedFuture(PageRead.NOT_FOUND);
            }
            if (a.status != RemoteStatus.OK) {
                return failed(error(a.status));
            }
            boolean intact = Checksums.crc32c(dst) == crcOf(a.arg3);
            return CompletableFuture.completedFuture(intact ? new PageRead(RemoteStatus.OK, a.arg2) : PageRead.CORRUPT);
        } catch (RemoteMemoryException e) {
            return failed(e);
        }
    }

    @Override
    public CompletableFuture<RemoteStatus> put(long pageId, long epoch, long lsn, MemorySegment src) {
        int sc = PageSize.classOf((int) Math.min(src.byteSize(), Integer.MAX_VALUE));
        return pageStatus(OP_PAGE_PUT, pageId, epoch, lsn, crcAndClass(Checksums.crc32c(src), sc), src);
    }

    @Override
    public CompletableFuture<RemoteStatus> free(long pageId, long epoch) {
        return pageStatus(OP_PAGE_FREE, pageId, epoch, 0, 0, null);
    }

    private CompletableFuture<RemoteStatus> pageStatus(int op, long a0, long a1, long a2, long a3, MemorySegment src) {
        try {
            RemoteStatus s = call(op, a0, a1, a2, a3, src, null).status;
            return s.ordinal() <= RemoteStatus.STALE_LSN.ordinal() || s == RemoteStatus.CORRUPT
                    ? CompletableFuture.completedFuture(s) : failed(error(s));
        } catch (RemoteMemoryException e) {
            return failed(e);
        }
    }

    @Override
    public CompletableFuture<Long> fence(int partition, long epoch) {
        try {
            Answer a = call(OP_FENCE, partition, epoch, 0, 0, null, null);
            return a.status == RemoteStatus.OK ? CompletableFuture.completedFuture(a.arg1) : failed(error(a.status));
        } catch (RemoteMemoryException e) {
            return failed(e);
        }
    }

    // ---- RemoteMemory

    @Override
    public CompletableFuture<RemoteRegion> allocateRegion(long length) {
        try {
            Answer a = call(OP_REGION_ALLOC, 0, 0, length, 0, null, null);
            return a.status == RemoteStatus.OK ? CompletableFuture.completedFuture(new RemoteRegion(a.arg0, a.arg2))
                    : failed(error(a.status));
        } catch (RemoteMemoryException e) {
            return failed(e);
        }
    }

    @Override
    public CompletableFuture<Void> freeRegion(long key) {
        return simple(OP_REGION_FREE, key, 0, 0, 0, null, null);
    }

    @Override
    public CompletableFuture<Void> read(long key, long offset, MemorySegment dst) {
        if (dst.byteSize() > RemoteMemory.MAX_TRANSFER) {
            return failed(new RemoteMemoryException(RemoteStatus.TOO_LARGE, dst.byteSize() + " bytes"));
        }
        return simple(OP_READ, key, offset, dst.byteSize(), 0, null, dst);
    }

    @Override
    public CompletableFuture<Void> write(long key, long offset, MemorySegment src) {
        if (src.byteSize() > RemoteMemory.MAX_TRANSFER) {
            return failed(new RemoteMemoryException(RemoteStatus.TOO_LARGE, src.byteSize() + " bytes"));
        }
        return simple(OP_WRITE, key, offset, src.byteSize(), 0, src, null);
    }

    private CompletableFuture<Void> simple(int op, long a0, long a1, long a2, long a3, MemorySegment src, MemorySegment dst) {
        try {
            RemoteStatus s = call(op, a0, a1, a2, a3, src, dst).status;
            return s == RemoteStatus.OK ? CompletableFuture.completedFuture(null) : failed(error(s));
        } catch (RemoteMemoryException e) {
            return failed(e);
        }
    }

    @Override
    public CompletableFuture<Long> compareAndSwap(long key, long offset, long expected, long desired) {
        try {
            Answer a = call(OP_CAS, key, offset, expected, desired, null, null);
            return a.status == RemoteStatus.OK ? CompletableFuture.completedFuture(a.arg2) : failed(error(a.status));
        } catch (RemoteMemoryException e) {
            return failed(e);
        }
    }

    @Override
    public String address() {
        return address.getHostString() + ":" + address.getPort();
    }

    @Override
    public int inFlight() {
        return inFlight.get();
    }

    @Override
    public boolean isAvailable() {
        return !closed && System.nanoTime() - retryAt >= 0;
    }

    @Override
    public void close() {
        closed = true;
        for (Conn c : conns) {
            c.close();
        }
    }
}
