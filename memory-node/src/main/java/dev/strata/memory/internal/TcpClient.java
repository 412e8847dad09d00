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
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * Pipelined Netty TCP client of one memory node. Requests get a 64-bit id, are encoded on the
 * caller's thread (a write's bytes are copied into a direct buffer there), queued in an MPSC outbox
 * and written by the I/O thread in bursts with one flush per burst; answers are matched by id in any
 * order and copied straight from the socket buffer into the caller's (FFM) segment.
 *
 * <p>Failure handling: a lost connection fails its in-flight requests with {@code UNAVAILABLE};
 * requests then fail fast until the reconnect backoff has passed, when one asynchronous reconnect is
 * tried. A sweep on the I/O thread fails requests older than the request timeout with
 * {@code TIMEOUT}; a late answer to such a request is dropped, never copied into a segment the
 * caller may already reuse (both happen on the I/O thread, and whoever removes the entry wins).
 *
 * <p>Thread-safe. Completions run on the I/O thread.
 */
public final class TcpClient implements MemoryNodeClient {
    private static final Logger LOG = Logger.getLogger(TcpClient.class.getName());

    private static final class Pending {
        final int op;
        final MemorySegment dst;
        final CompletableFuture<Object> cf = new CompletableFuture<>();
        final long deadline;
        final Channel ch;

        Pending(int op, MemorySegment dst, long deadline, Channel ch) {
            this.op = op;
            this.dst = dst;
            this.deadline = deadline;
            this.ch = ch;
        }
    }

    private final InetSocketAddress address;
    private final ClientOptions options;
    private final EventLoopGroup group;
    private final Bootstrap bootstrap;
    private final long timeoutNanos;
    private final ConcurrentHashMap<Long, Pending> pending = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<ByteBuf> outbox = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    private final AtomicBoolean connecting = new AtomicBoolean();
    private final AtomicLong ids = new AtomicLong();
    private final ScheduledFuture<?> sweeper;
    private final Runnable drain = this::drain;
    /** The request whose answer payload is being copied in (I/O thread only). */
    private Pending streaming;
    private volatile Channel channel;
    private volatile long retryAt;
    private volatile boolean closed;

    private TcpClient(InetSocketAddress address, ClientOptions options) {
        this.address = address;
        this.options = options;
        this.timeoutNanos = options.requestTimeout().toNanos();
        this.group = Transports.group(1, "memory-client-io", TimeUnit.MICROSECONDS.toNanos(options.pollMicros()));
        this.bootstrap = new Bootstrap().group(group).channel(Transports.channel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) options.connectTimeout().toMillis())
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast("answers", new Answers());
                    }
                });
        long period = Math.max(TimeUnit.MILLISECONDS.toNanos(5), timeoutNanos / 4);
        this.sweeper = group.next().scheduleAtFixedRate(this::sweep, period, period, TimeUnit.NANOSECONDS);
    }

    /** Connects; if the node cannot be reached now, the client starts disconnected and retries later. */
    public static TcpClient connect(InetSocketAddress address, ClientOptions options) {
        TcpClient c = new TcpClient(address, options);
        ChannelFuture f = c.bootstrap.connect(address);
        f.awaitUninterruptibly(options.connectTimeout().toMillis() + 100, TimeUnit.MILLISECONDS);
        if (f.isSuccess()) {
            c.install(f.channel());
        } else {
            LOG.warning("memory node " + address + " unreachable, will retry: " + f.cause());
            c.retryAt = System.nanoTime() + options.reconnectBackoff().toNanos();
        }
        return c;
    }

    private void install(Channel ch) {
        channel = ch;
        ch.closeFuture().addListener(x -> lost(ch));
        if (closed) {
            ch.close();
        }
    }

    private void lost(Channel ch) {
        if (channel == ch) {
            channel = null;
        }
        retryAt = System.nanoTime() + options.reconnectBackoff().toNanos();
        for (var e : pending.entrySet()) {
            Pending p = e.getValue();
            if (p.ch == ch && pending.remove(e.getKey(), p)) {
                p.cf.completeExceptionally(new RemoteMemoryException(RemoteStatus.UNAVAILABLE,
                        "connection to " + address + " lost"));
            }
        }
    }

    private void maybeReconnect() {
        // only after lost() has run for the old channel (it resets channel): its failed writes are
        // recorded by then, so no request on a new connection can overtake them
        if (closed || channel != null || System.nanoTime() - retryAt < 0 || !connecting.compareAndSet(false, true)) {
            return;
        }
        bootstrap.connect(address).addListener((ChannelFuture f) -> {
            if (f.isSuccess()) {
                install(f.channel());
            } else {
                retryAt = System.nanoTime() + options.reconnectBackoff().toNanos();
            }
            connecting.set(false);
        });
    }

    @SuppressWarnings("unchecked")
    private <T> CompletableFuture<T> send(int op, long a0, long a1, long a2, long a3, MemorySegment payload,
            MemorySegment dst) {
        Channel ch = channel;
        if (closed) {
            return CompletableFuture.failedFuture(new RemoteMemoryException(RemoteStatus.UNAVAILABLE, "client closed"));
        }
        if (ch == null || !ch.isActive()) {
            maybeReconnect();
            return CompletableFuture.failedFuture(new RemoteMemoryException(RemoteStatus.UNAVAILABLE,
                    "no connection to " + address));
        }
        long id = ids.incrementAndGet();
        int plen = payload == null ? 0 : (int) payload.byteSize();
        ByteBuf b = Frames.header(ch.alloc(), plen, op, RemoteStatus.OK, id, a0, a1, a2, a3);
        if (plen > 0) {
            MemorySegment.copy(payload, 0, Frames.appendView(b, plen), 0, plen);
        }
        Frames.seal(b);
        Pending p = new Pending(op, dst, System.nanoTime() + timeoutNanos, ch);
        pending.put(id, p);
        outbox.add(b);
        if (drainScheduled.compareAndSet(false, true)) {
            ch.eventLoop().execute(drain);
        }
        if (!ch.isActive() && pending.remove(id, p)) {
            p.cf.completeExceptionally(new RemoteMemoryException(RemoteStatus.UNAVAILABLE, "connection to " + address + " lost"));
        }
        return (CompletableFuture<T>) (CompletableFuture<?>) p.cf;
    }

    private void drain() {
        drainScheduled.set(false);
        Channel ch = channel;
        ByteBuf b;
        boolean wrote = false;
        while ((b = outbox.poll()) != null) {
            if (ch == null || !ch.isActive()) {
                b.release();
            } else {
                ch.write(b, ch.voidPromise());
                wrote = true;
            }
        }
        if (wrote) {
            ch.flush();
        }
    }

    private void sweep() {
        try {
            sweepOnce();
        } catch (RuntimeException e) {
            LOG.warning("request sweep failed: " + e);
        }
    }

    private void sweepOnce() {
        long now = System.nanoTime();
        Pending s = streaming;
        if (s != null && now - s.deadline > 0) {
            streaming = null; // the rest of its payload is skipped
            s.cf.completeExceptionally(new RemoteMemoryException(RemoteStatus.TIMEOUT,
                    "answer from " + address + " incomplete after " + options.requestTimeout().toMillis() + " ms"));
        }
        for (var e : pending.entrySet()) {
            Pending p = e.getValue();
            if (now - p.deadline > 0 && pending.remove(e.getKey(), p)) {
                p.cf.completeExceptionally(new RemoteMemoryException(RemoteStatus.TIMEOUT,
                        "no answer from " + address + " within " + options.requestTimeout().toMillis() + " ms"));
            }
        }
    }

    /**
     * Inbound answers, matched by id. The payload of a READ or PAGE_GET answer is copied into the
     * caller's segment as it arrives, socket buffer by socket buffer, so a large answer is never
     * accumulated first; every other answer is taken as a whole frame. The length field is checked
     * before anything is buffered (a bad one closes the connection). Runs on the I/O thread, as does
     * the sweep (the group has one thread), so {@link #streaming} needs no synchronization.
     */
    private final class Answers extends ByteToMessageDecoder {
        private boolean failed;
        private int remaining;
        private int filled;
        private long arg2;
        private long arg3;

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            if (failed) {
                in.skipBytes(in.readableBytes());
                return;
            }
            while (true) {
                if (remaining > 0) {
                    int n = Math.min(remaining, in.readableBytes());
                    if (n == 0) {
                        return;
                    }
                    Pending p = streaming;
                    if (p != null) {
                        try {
                            MemorySegment.copy(MemorySegment.ofBuffer(in.nioBuffer(in.readerIndex(), n)), 0, p.dst, filled, n);
                        } catch (RuntimeException e) {
                            streaming = null; // e.g. a segment confined to another thread; discard the rest
                            p.cf.completeExceptionally(e);
                        }
                    }
                    in.skipBytes(n);
                    filled += n;
                    remaining -= n;
                    if (remaining > 0) {
                        return;
                    }
                    finishStream();
                    continue;
                }
                if (in.readableBytes() < 4) {
                    return;
                }
                int ri = in.readerIndex();
                int len = in.getIntLE(ri + LENGTH_OFFSET);
                if (len < HEADER_LENGTH || len > MAX_FRAME) {
                    failed = true;
                    in.skipBytes(in.readableBytes());
                    ctx.close();
                    return;
                }
                if (in.readableBytes() < HEADER_LENGTH) {
                    return;
                }
                int op = in.getUnsignedByte(ri + OPCODE_OFFSET);
                RemoteStatus status = RemoteStatus.of(in.getUnsignedByte(ri + STATUS_OFFSET));
                int payload = len - HEADER_LENGTH;
                if (payload > 0 && status == RemoteStatus.OK && (op == OP_READ || op == OP_PAGE_GET)) {
                    Pending p = pending.remove(in.getLongLE(ri + REQUEST_ID_OFFSET));
                    if (p != null && (p.op != op || p.dst.byteSize() != payload)) {
                        fail(p, RemoteStatus.BAD_FRAME);
                        p = null;
                    }
                    streaming = p; // null: a timed-out request's answer, skipped without buffering
                    arg2 = in.getLongLE(ri + ARG2_OFFSET);
                    arg3 = in.getLongLE(ri + ARG3_OFFSET);
                    remaining = payload;
                    filled = 0;
                    in.skipBytes(HEADER_LENGTH);
                    continue;
                }
                if (in.readableBytes() < len) {
                    return;
                }
                ByteBuf f = in.readRetainedSlice(len);
                try {
                    Pending p = pending.remove(Frames.id(f));
                    if (p != null) {
                        try {
                            complete(p, f);
                        } catch (RuntimeException e) {
                            p.cf.completeExceptionally(e);
                        }
                    }
                } finally {
                    f.release();
                }
            }
        }

        private void finishStream() {
            Pending p = streaming;
            streaming = null;
            if (p == null) {
                return;
            }
            if (p.op == OP_PAGE_GET) {
                boolean intact = Checksums.crc32c(p.dst) == crcOf(arg3);
                p.cf.complete(intact ? new PageRead(RemoteStatus.OK, arg2) : PageRead.CORRUPT);
            } else {
                p.cf.complete(null);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            Pending p = streaming;
            streaming = null;
            if (p != null) {
                p.cf.completeExceptionally(new RemoteMemoryException(RemoteStatus.UNAVAILABLE,
                        "connection to " + address + " lost mid-answer"));
            }
            super.channelInactive(ctx);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    private void complete(Pending p, ByteBuf f) {
        RemoteStatus s = Frames.status(f);
        int payload = Frames.payloadLength(f);
        if (Frames.opcode(f) != p.op) {
            p.cf.completeExceptionally(new RemoteMemoryException(RemoteStatus.BAD_FRAME, "answer opcode mismatch"));
            return;
        }
        switch (p.op) {
            case OP_PAGE_GET -> {
                if (s == RemoteStatus.NOT_FOUND) {
                    p.cf.complete(PageRead.NOT_FOUND);
                } else if (s != RemoteStatus.OK) {
                    fail(p, s);
                } else if (payload != p.dst.byteSize()) {
                    fail(p, RemoteStatus.BAD_FRAME);
                } else {
                    MemorySegment.copy(Frames.payload(f), 0, p.dst, 0, payload);
                    boolean intact = Checksums.crc32c(p.dst) == crcOf(Frames.arg3(f));
                    p.cf.complete(intact ? new PageRead(RemoteStatus.OK, Frames.arg2(f)) : PageRead.CORRUPT);
                }
            }
            case OP_PAGE_PUT, OP_PAGE_FREE -> {
                if (s.ordinal() <= RemoteStatus.STALE_LSN.ordinal() || s == RemoteStatus.CORRUPT) {
                    p.cf.complete(s);
                } else {
                    fail(p, s);
                }
            }
            default -> {
                if (s != RemoteStatus.OK) {
                    fail(p, s);
                    return;
                }
                switch (p.op) {
                    case OP_READ -> {
                        if (payload != p.dst.byteSize()) {
                            fail(p, RemoteStatus.BAD_FRAME);
                            return;
                        }
                        MemorySegment.copy(Frames.payload(f), 0, p.dst, 0, payload);
                        p.cf.complete(null);
                    }
                    case OP_CAS -> p.cf.complete(Frames.arg2(f));
                    case OP_REGION_ALLOC -> p.cf.complete(new RemoteRegion(Frames.arg0(f), Frames.arg2(f)));
                    case OP_FENCE -> p.cf.complete(Frames.arg1(f));
                    default -> p.cf.complete(null);
                }
            }
        }
    }

    private static void fail(Pending p, RemoteStatus s) {
        p.cf.completeExceptionally(new RemoteMemoryException(s, "memory node answered " + s));
    }

    private static <T> CompletableFuture<T> tooLarge(long n) {
        return CompletableFuture.failedFuture(new RemoteMemoryException(RemoteStatus.TOO_LARGE,
                n + " bytes exceed the transfer limit of " + RemoteMemory.MAX_TRANSFER));
    }

    // ---- RemoteMemory

    @Override
    public CompletableFuture<RemoteRegion> allocateRegion(long length) {
        return send(OP_REGION_ALLOC, 0, 0, length, 0, null, null);
    }

    @Override
    public CompletableFuture<Void> freeRegion(long key) {
        return send(OP_REGION_FREE, key, 0, 0, 0, null, null);
    }

    @Override
    public CompletableFuture<Void> read(long key, long offset, MemorySegment dst) {
        long n = dst.byteSize();
        return n > MAX_TRANSFER ? tooLarge(n) : send(OP_READ, key, offset, n, 0, null, dst);
    }

    @Override
    public CompletableFuture<Void> write(long key, long offset, MemorySegment src) {
        long n = src.byteSize();
        return n > MAX_TRANSFER ? tooLarge(n) : send(OP_WRITE, key, offset, n, 0, src, null);
    }

    @Override
    public CompletableFuture<Long> compareAndSwap(long key, long offset, long expected, long desired) {
        return send(OP_CAS, key, offset, expected, desired, null, null);
    }

    // ---- PageMemory

    @Override
    public CompletableFuture<PageRead> get(long pageId, int sizeClass, MemorySegment dst) {
        if (dst.byteSize() != PageSize.bytes(sizeClass)) {
            throw new IllegalArgumentException("destination is " + dst.byteSize() + " bytes, page is " + PageSize.bytes(sizeClass));
        }
        return send(OP_PAGE_GET, pageId, 0, 0, crcAndClass(0, sizeClass), null, dst);
    }

    @Override
    public CompletableFuture<RemoteStatus> put(long pageId, long epoch, long lsn, MemorySegment src) {
        int sc = PageSize.classOf((int) Math.min(src.byteSize(), Integer.MAX_VALUE));
        return send(OP_PAGE_PUT, pageId, epoch, lsn, crcAndClass(Checksums.crc32c(src), sc), src, null);
    }

    @Override
    public CompletableFuture<RemoteStatus> free(long pageId, long epoch) {
        return send(OP_PAGE_FREE, pageId, epoch, 0, 0, null, null);
    }

    @Override
    public CompletableFuture<Long> fence(int partition, long epoch) {
        return send(OP_FENCE, partition, epoch, 0, 0, null, null);
    }

    /** Sends a PING; completes when the node answers. */
    public CompletableFuture<Void> ping() {
        return send(OP_PING, 0, 0, 0, 0, null, null);
    }

    @Override
    public String address() {
        return address.getHostString() + ":" + address.getPort();
    }

    @Override
    public int inFlight() {
        return (int) Math.min(Integer.MAX_VALUE, pending.mappingCount());
    }

    @Override
    public boolean isAvailable() {
        Channel ch = channel;
        if (ch != null && ch.isActive()) {
            return true;
        }
        maybeReconnect();
        return false;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        sweeper.cancel(false);
        Channel ch = channel;
        if (ch != null) {
            ch.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        }
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        for (var e : pending.entrySet()) {
            if (pending.remove(e.getKey(), e.getValue())) {
                e.getValue().cf.completeExceptionally(new RemoteMemoryException(RemoteStatus.UNAVAILABLE, "client closed"));
            }
        }
        ByteBuf b;
        while ((b = outbox.poll()) != null) {
            b.release();
        }
    }

    @Override
    public String toString() {
        return "TcpClient[" + address() + "]";
    }
}
