package dev.strata.testkit;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy that adds latency (DESIGN §11: this kernel has no netem). Each direction of each
 * connection holds every byte it reads for RTT/2 before writing it on, without serializing: reads are
 * stamped on arrival and released in order when their time comes, so many requests are in flight at
 * once as on a long link. Up to {@code window} bytes per direction may be held (a bandwidth-delay
 * product bound, default 16 MiB; the proxy stops reading that direction while it is full).
 *
 * <p>One platform thread ({@code delay-proxy}) serves every connection: a {@link Selector} for
 * readiness and a timer queue of the directions whose oldest held bytes fall due next. Bytes sit in
 * 1 MiB native buffers (one shared {@link Arena}, owned by that thread) and are written with gathering
 * writes, so the proxy costs one copy in and one copy out per byte and no thread per connection
 * (the former thread-per-direction design spent 2 cores' worth of context switches at 32 connections
 * and added up to 3× the delay asked for).
 *
 * <pre>
 *   client ─► read, stamp t0 ─► [held: (buf, t0) ...] ─ timer: t0 + rtt/2 ≤ now ─► write ─► server
 *   client ◄─ write ◄─ timer ◄─ [held ...] ◄─ read, stamp t0 ◄─ server       (other direction)
 * </pre>
 *
 * <p>It measures what it adds: {@link #addedDelayNanos()} reports the mean (per segment) and max of
 * (time the last byte of a segment was written − time it was read), which includes the timer's
 * overshoot (the selector wakes with millisecond resolution, so up to ~1 ms) and any wait for a full
 * socket; {@link #meanAddedDelayNanosPerByte()} weights the same by bytes. Time a segment spends in
 * the kernel before the proxy thread reads it (only when that thread is starved of CPU) is not seen.
 *
 * <p>Thread-safety: {@code start}, {@code close} and the statistics may be called from any thread.
 */
public final class DelayProxy implements AutoCloseable {
    private static final int BUFFER = 1 << 20;
    private static final int MIN_READ = 64 * 1024;
    private static final int READ_BUDGET = 256 * 1024;

    private final ServerSocketChannel listener;
    private final Selector selector;
    private final InetSocketAddress target;
    private final long halfRttNanos;
    private final int window;
    private final Thread thread;
    private final AtomicLong segments = new AtomicLong();
    private final AtomicLong delaySum = new AtomicLong();
    private final AtomicLong delayByteSum = new AtomicLong();
    private final AtomicLong delayMax = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong lateSum = new AtomicLong();
    private final AtomicLong lateCount = new AtomicLong();
    private final AtomicLong lateMax = new AtomicLong();
    private final AtomicLong backpressured = new AtomicLong();
    private volatile boolean closed;

    // owned by the proxy thread
    private final Arena arena = Arena.ofShared();
    private final ArrayDeque<ByteBuffer> freeBuffers = new ArrayDeque<>();
    private final PriorityQueue<Direction> timers =
            new PriorityQueue<>((a, b) -> Long.compare(a.scheduledAt, b.scheduledAt));
    private final List<Connection> connections = new ArrayList<>();

    private DelayProxy(ServerSocketChannel listener, Selector selector, InetSocketAddress target, Duration rtt,
                       int window) {
        this.listener = listener;
        this.selector = selector;
        this.target = target;
        this.halfRttNanos = rtt.toNanos() / 2;
        this.window = window;
        this.thread = Thread.ofPlatform().name("delay-proxy").daemon().unstarted(this::loop);
    }

    /** Starts a proxy on a free loopback port forwarding to {@code target} with the given round-trip time. */
    public static DelayProxy start(InetSocketAddress target, Duration rtt) throws IOException {
        return start(target, rtt, 16 << 20);
    }

    /** As {@link #start(InetSocketAddress, Duration)}, holding at most {@code windowBytes} per direction. */
    public static DelayProxy start(InetSocketAddress target, Duration rtt, int windowBytes) throws IOException {
        if (rtt.isNegative() || windowBytes < MIN_READ) {
            throw new IllegalArgumentException("rtt must be >= 0 and window >= 64 KiB");
        }
        ServerSocketChannel ch = ServerSocketChannel.open();
        Selector sel = null;
        try {
            ch.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 128);
            ch.configureBlocking(false);
            sel = Selector.open();
            ch.register(sel, SelectionKey.OP_ACCEPT);
        } catch (IOException | RuntimeException e) {
            ch.close();
            if (sel != null) {
                sel.close();
            }
            throw e;
        }
        DelayProxy p = new DelayProxy(ch, sel, target, rtt, windowBytes);
        p.thread.start();
        return p;
    }

    public int port() {
        return listener.socket().getLocalPort();
    }

    /** Mean (per segment) and max delay added so far, in nanoseconds: {mean, max, segments}. */
    public long[] addedDelayNanos() {
        long n = segments.get();
        return new long[] {n == 0 ? 0 : delaySum.get() / n, delayMax.get(), n};
    }

    /** Mean delay added per byte forwarded (each segment's delay weighted by its length), in nanoseconds. */
    public long meanAddedDelayNanosPerByte() {
        long b = bytes.get();
        return b == 0 ? 0 : delayByteSum.get() / b;
    }

    /**
     * How late the proxy's own timer released segments, in nanoseconds: {mean, max, segments} of (first
     * write attempt − (arrival + rtt/2)) over the segments released on time by the timer. Segments
     * that fell due while their destination socket was full (the receiver was not keeping up) are not
     * in it; {@link #backpressuredSegments()} counts them. Small lateness with a large
     * {@link #addedDelayNanos()} means the excess was queueing behind the receiver, not the proxy.
     */
    public long[] timerLatenessNanos() {
        long n = lateCount.get();
        return new long[] {n == 0 ? 0 : lateSum.get() / n, lateMax.get(), n};
    }

    /** Segments that fell due while the destination socket was full (written when it drained). */
    public long backpressuredSegments() {
        return backpressured.get();
    }

    public long bytesForwarded() {
        return bytes.get();
    }

    // ---- proxy thread ----------------------------------------------------------------------

    /** Bytes read from one side, waiting to be written to the other: [start, end) of buf, read at {@code arrival}. */
    private static final class Held {
        final ByteBuffer buf;
        int start;
        final int end;
        final long arrival;
        boolean released; // included in a write call already

        Held(ByteBuffer buf, int start, int end, long arrival) {
            this.buf = buf;
            this.start = start;
            this.end = end;
            this.arrival = arrival;
        }
    }

    /** One proxied connection: two channels, two directions. */
    private final class Connection {
        final SocketChannel client;
        final SocketChannel server;
        final Direction up;
        final Direction down;

        Connection(SocketChannel client, SocketChannel server) throws IOException {
            this.client = client;
            this.server = server;
            SelectionKey ck = client.register(selector, 0);
            SelectionKey sk = server.register(selector, 0);
            this.up = new Direction(this, client, ck, server, sk);
            this.down = new Direction(this, server, sk, client, ck);
            ck.attach(new Direction[] {up, down}); // {reads from this channel, writes to it}
            sk.attach(new Direction[] {down, up});
            up.updateInterest();
            down.updateInterest();
        }

        void close() {
            up.release();
            down.release();
            closeQuietly(client);
            closeQuietly(server);
            connections.remove(this);
        }
    }

    /** One direction of a connection: reads {@code from}, holds, writes {@code to}. */
    private final class Direction {
        final Connection conn;
        final SocketChannel from;
        final SelectionKey fromKey;
        final SocketChannel to;
        final SelectionKey toKey;
        final ArrayDeque<Held> held = new ArrayDeque<>();
        ByteBuffer tail; // buffer being filled by reads (also referenced by held entries)
        long heldBytes;
        boolean eof;
        boolean outputShut;
        boolean blocked; // the last write did not finish: waiting for OP_WRITE
        long scheduledAt = Long.MIN_VALUE; // in timers when != MIN_VALUE

        Direction(Connection conn, SocketChannel from, SelectionKey fromKey, SocketChannel to, SelectionKey toKey) {
            this.conn = conn;
            this.from = from;
            this.fromKey = fromKey;
            this.to = to;
            this.toKey = toKey;
        }

        boolean wantsRead() {
            return !eof && heldBytes < window;
        }

        /**
         * Reads what is there, up to 256 KiB per call so one busy connection cannot hold up the timers
         * of the others (the selector reports the channel again while bytes remain), until the window
         * is full or the socket is drained.
         */
        void read() throws IOException {
            for (int budget = READ_BUDGET; budget > 0 && wantsRead(); ) {
                if (tail == null || tail.capacity() - tail.limit() < MIN_READ) {
                    tail = takeBuffer();
                }
                ByteBuffer b = tail.duplicate();
                int start = tail.limit();
                b.position(start).limit((int) Math.min(b.capacity(), start + (window - heldBytes)));
                int n = from.read(b);
                if (n < 0) {
                    eof = true;
                    break;
                }
                if (n == 0) {
                    break;
                }
                tail.limit(start + n);
                budget -= n;
                boolean wasEmpty = held.isEmpty();
                held.add(new Held(tail, start, start + n, System.nanoTime()));
                heldBytes += n;
                if (wasEmpty && !blocked) {
                    schedule(held.peek().arrival + halfRttNanos);
                }
            }
            if (eof && held.isEmpty() && !blocked) {
                finishOutput();
            }
        }

        /** Writes every held segment that is due; reschedules for the next one or waits for OP_WRITE. */
        void writeDue(long now) throws IOException {
            long unblockedAt = blocked ? now : Long.MIN_VALUE; // segments due before this waited for the receiver
            blocked = false;
            try {
                while (!held.isEmpty()) {
                    int due = 0;
                    long length = 0;
                    for (Held h : held) {
                        if (h.arrival + halfRttNanos > now || due == 64) {
                            break;
                        }
                        due++;
                        length += h.end - h.start;
                    }
                    if (due == 0) {
                        schedule(held.peek().arrival + halfRttNanos);
                        return;
                    }
                    ByteBuffer[] bufs = new ByteBuffer[due];
                    int i = 0;
                    for (Held h : held) {
                        if (i == due) {
                            break;
                        }
                        bufs[i++] = h.buf.duplicate().limit(h.end).position(h.start);
                        if (!h.released) {
                            h.released = true;
                            if (h.arrival + halfRttNanos < unblockedAt) {
                                backpressured.incrementAndGet();
                            } else {
                                long late = now - (h.arrival + halfRttNanos);
                                lateSum.addAndGet(late);
                                lateCount.incrementAndGet();
                                if (late > lateMax.get()) {
                                    lateMax.set(late);
                                }
                            }
                        }
                    }
                    long written = to.write(bufs);
                    now = System.nanoTime();
                    consume(written, now);
                    if (written < length) {
                        blocked = true;
                        return;
                    }
                }
                if (eof) {
                    finishOutput();
                }
            } finally {
                updateInterest();
            }
        }

        /** Drops {@code n} written bytes from the head, accounting each segment as its last byte goes out. */
        private void consume(long n, long now) {
            while (n > 0) {
                Held h = held.peek();
                int len = h.end - h.start;
                if (n >= len) {
                    held.poll();
                    n -= len;
                    heldBytes -= len;
                    account(len, now - h.arrival);
                    if (h.buf != tail && (held.isEmpty() || held.peek().buf != h.buf)) {
                        freeBuffers.push(h.buf.clear().limit(0));
                    }
                } else {
                    h.start += (int) n; // bytes written so far count now, the segment when its last byte goes
                    heldBytes -= n;
                    bytes.addAndGet(n);
                    delayByteSum.addAndGet(n * (now - h.arrival));
                    n = 0;
                }
            }
            if (held.isEmpty() && tail != null) {
                tail.limit(0); // reuse the tail buffer from its start
            }
        }

        private void account(int len, long added) {
            segments.incrementAndGet();
            delaySum.addAndGet(added);
            delayByteSum.addAndGet(added * len);
            bytes.addAndGet(len);
            if (added > delayMax.get()) {
                delayMax.set(added);
            }
        }

        private void schedule(long at) {
            if (scheduledAt != Long.MIN_VALUE) {
                return; // already in the queue, for an earlier or equal time (segments are FIFO)
            }
            scheduledAt = at;
            timers.add(this);
        }

        private void finishOutput() throws IOException {
            if (!outputShut) {
                outputShut = true;
                to.shutdownOutput(); // half-close: the other direction may still be draining
            }
            Direction other = this == conn.up ? conn.down : conn.up;
            if (other.outputShut) {
                conn.close();
            }
        }

        /** Interest ops of both keys follow from the state of the two directions sharing them. */
        void updateInterest() {
            updateKey(fromKey);
            updateKey(toKey);
        }

        void release() {
            ByteBuffer last = null;
            for (Held h : held) {
                if (h.buf != tail && h.buf != last) {
                    freeBuffers.push(h.buf.clear().limit(0));
                }
                last = h.buf;
            }
            if (tail != null) {
                freeBuffers.push(tail.clear().limit(0));
            }
            held.clear();
            tail = null;
            if (scheduledAt != Long.MIN_VALUE) {
                timers.remove(this);
                scheduledAt = Long.MIN_VALUE;
            }
        }
    }

    private static void updateKey(SelectionKey k) {
        if (!k.isValid()) {
            return;
        }
        Direction[] d = (Direction[]) k.attachment(); // {reads from k's channel, writes to it}
        int ops = (d[0].wantsRead() ? SelectionKey.OP_READ : 0) | (d[1].blocked ? SelectionKey.OP_WRITE : 0);
        if (k.interestOps() != ops) {
            k.interestOps(ops);
        }
    }

    private ByteBuffer takeBuffer() {
        ByteBuffer b = freeBuffers.poll();
        return b != null ? b : arena.allocate(BUFFER, 4096).asByteBuffer().limit(0);
    }

    /**
     * The proxy stands in for a network, which costs the endpoints no CPU; on a loaded machine a
     * single proxy thread at normal priority falls behind its timers (it competes with every thread
     * of the client and server under test). So it lowers its nice value to
     * {@code -Dstrata.delayProxy.nice} (default -10) where the process may (CAP_SYS_NICE), best
     * effort; {@link #timerLatenessNanos()} reports how well it kept time either way.
     */
    @SuppressWarnings("restricted")
    private static void raisePriority() {
        int nice = Integer.getInteger("strata.delayProxy.nice", -10);
        if (nice == 0) {
            return;
        }
        try {
            java.lang.foreign.Linker linker = java.lang.foreign.Linker.nativeLinker();
            var libc = linker.defaultLookup();
            var gettid = linker.downcallHandle(libc.find("gettid").orElseThrow(),
                    java.lang.foreign.FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT));
            var setpriority = linker.downcallHandle(libc.find("setpriority").orElseThrow(),
                    java.lang.foreign.FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT,
                            java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.JAVA_INT,
                            java.lang.foreign.ValueLayout.JAVA_INT));
            int tid = (int) gettid.invokeExact();
            int ignored = (int) setpriority.invokeExact(0 /* PRIO_PROCESS: a tid names one thread */, tid, nice);
        } catch (Throwable t) {
            // not permitted or not Linux: run at normal priority
        }
    }

    private void loop() {
        raisePriority();
        try {
            while (!closed) {
                long wait = 0;
                Direction next = timers.peek();
                if (next != null) {
                    wait = next.scheduledAt - System.nanoTime();
                }
                if (next != null && wait <= 0) {
                    selector.selectNow();
                } else if (next != null) {
                    selector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(wait + 999_999)));
                } else {
                    selector.select();
                }
                runDueTimers();
                for (SelectionKey k : selector.selectedKeys()) {
                    handle(k);
                    runDueTimers(); // between keys too: a round of reads can take milliseconds
                }
                selector.selectedKeys().clear();
            }
        } catch (IOException | ClosedSelectorException e) {
            // closing
        } finally {
            for (Connection c : List.copyOf(connections)) {
                c.close();
            }
            closeQuietly(listener);
            try {
                selector.close();
            } catch (IOException ignored) {
                // nothing to do
            }
            arena.close();
        }
    }

    /** Writes out every direction whose oldest held bytes are due. */
    private void runDueTimers() {
        long now = System.nanoTime();
        while (!timers.isEmpty() && timers.peek().scheduledAt <= now) {
            Direction d = timers.poll();
            d.scheduledAt = Long.MIN_VALUE;
            try {
                d.writeDue(now);
            } catch (IOException e) {
                d.conn.close();
            }
            now = System.nanoTime();
        }
    }

    private void handle(SelectionKey k) {
        if (!k.isValid()) {
            return;
        }
        if (k.channel() == listener) {
            accept();
            return;
        }
        Direction[] d = (Direction[]) k.attachment();
        try {
            if (k.isWritable() && d[1].blocked) {
                d[1].writeDue(System.nanoTime());
            }
            if (k.isValid() && k.isReadable()) {
                d[0].read();
                d[0].updateInterest();
            }
        } catch (IOException e) {
            d[0].conn.close();
        }
    }

    private void accept() {
        SocketChannel client = null;
        SocketChannel server = null;
        try {
            while ((client = listener.accept()) != null) {
                server = SocketChannel.open();
                server.socket().connect(target, 10_000); // loopback targets: a blocking connect is quick
                for (SocketChannel s : new SocketChannel[] {client, server}) {
                    s.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    s.configureBlocking(false);
                }
                connections.add(new Connection(client, server));
                client = null;
                server = null;
            }
        } catch (IOException e) {
            closeQuietly(client);
            closeQuietly(server);
        }
    }

    private static void closeQuietly(java.nio.channels.Channel c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    /** Stops accepting, cuts every proxied connection and frees the buffers. Idempotent. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        selector.wakeup();
        if (Thread.currentThread() != thread) {
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
