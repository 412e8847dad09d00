package dev.strata.testkit;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ArrayBlockingQueue;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.locks.LockSupport;

/**
 * A TCP proxy that adds latency (DESIGN §11: this kernel has no netem). Each direction of each
 * connection holds every segment it reads for RTT/2 before writing it on, without serializing:
 * segments are stamped on arrival and released in order when their time comes, so many requests
 * are in flight at once as on a long link. Up to {@code window} bytes per direction may be held
 * (a bandwidth-delay product bound, default 16 MiB; the reader stops reading when it is full).
 * Bytes move between sockets through pooled native buffers (SocketChannel), never the heap.
 *
 * <pre>
 *   client ──► [reader: stamp t0] ─queue─► [writer: wait until t0 + rtt/2, write] ──► server
 *   client ◄── [writer] ◄─queue─ [reader] ◄── server              (same, other direction)
 * </pre>
 * It measures what it adds: {@link #addedDelayNanos()} reports the mean and max of
 * (write time − arrival time) over all segments.
 */
public final class DelayProxy implements AutoCloseable {
    private static final int SEGMENT = 256 * 1024;
    private final ServerSocket listener;
    private final InetSocketAddress target;
    private final long halfRttNanos;
    private final int window;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private final AtomicInteger ids = new AtomicInteger();
    private final AtomicLong segments = new AtomicLong();
    private final AtomicLong delaySum = new AtomicLong();
    private final LongAccumulator delayMax = new LongAccumulator(Math::max, 0);
    private final AtomicLong bytes = new AtomicLong();
    private volatile boolean closed;

    private DelayProxy(ServerSocket listener, InetSocketAddress target, Duration rtt, int window) {
        this.listener = listener;
        this.target = target;
        this.halfRttNanos = rtt.toNanos() / 2;
        this.window = window;
    }

    /** Starts a proxy on a free loopback port forwarding to {@code target} with the given round-trip time. */
    public static DelayProxy start(InetSocketAddress target, Duration rtt) throws IOException {
        return start(target, rtt, 16 << 20);
    }

    public static DelayProxy start(InetSocketAddress target, Duration rtt, int windowBytes) throws IOException {
        ServerSocketChannel ch = ServerSocketChannel.open();
        ch.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 128);
        ServerSocket ss = ch.socket();
        DelayProxy p = new DelayProxy(ss, target, rtt, windowBytes);
        Thread.ofPlatform().name("delay-proxy-accept").daemon().start(p::acceptLoop);
        return p;
    }

    public int port() {
        return listener.getLocalPort();
    }

    /** Mean and max delay added per segment so far, in nanoseconds: {mean, max, segments}. */
    public long[] addedDelayNanos() {
        long n = segments.get();
        return new long[] {n == 0 ? 0 : delaySum.get() / n, delayMax.get(), n};
    }

    public long bytesForwarded() {
        return bytes.get();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket client = listener.getChannel().accept().socket();
                Socket server = SocketChannel.open().socket();
                server.connect(target, 10_000);
                client.setTcpNoDelay(true);
                server.setTcpNoDelay(true);
                sockets.add(client);
                sockets.add(server);
                int id = ids.incrementAndGet();
                AtomicInteger open = new AtomicInteger(2);
                pipe(client, server, "delay-proxy-" + id + "-up", open);
                pipe(server, client, "delay-proxy-" + id + "-down", open);
            } catch (IOException e) {
                if (closed) {
                    return;
                }
            }
        }
    }

    private record Segment(ByteBuffer data, long arrival) {}

    /**
     * One direction: a reader fills native 256 KiB buffers (at most window/256 KiB of them, allocated
     * on demand) and stamps them; a writer sends each when its time comes and recycles it.
     */
    private void pipe(Socket from, Socket to, String name, AtomicInteger open) {
        int maxBuffers = Math.max(2, window / SEGMENT);
        LinkedBlockingQueue<Segment> queue = new LinkedBlockingQueue<>();
        ArrayBlockingQueue<ByteBuffer> free = new ArrayBlockingQueue<>(maxBuffers);
        AtomicInteger allocated = new AtomicInteger();
        Arena arena = Arena.ofShared();
        Segment eof = new Segment(null, 0);
        AtomicInteger users = new AtomicInteger(2); // reader + writer; the last one frees the buffers
        Runnable done = () -> {
            if (users.decrementAndGet() == 0) {
                arena.close();
            }
        };
        SocketChannel in = from.getChannel();
        SocketChannel out = to.getChannel();
        Thread.ofPlatform().name(name + "-read").daemon().start(() -> {
            try {
                while (true) {
                    ByteBuffer b = free.poll();
                    if (b == null) {
                        b = allocated.incrementAndGet() <= maxBuffers
                                ? arena.allocate(SEGMENT, 4096).asByteBuffer() : free.take();
                    }
                    b.clear();
                    if (in.read(b) < 0) {
                        break;
                    }
                    queue.add(new Segment(b.flip(), System.nanoTime()));
                }
            } catch (IOException | InterruptedException ignored) {
                // connection ended
            }
            queue.add(eof);
            done.run();
        });
        Thread.ofPlatform().name(name + "-write").daemon().start(() -> {
            boolean clean = false;
            try {
                while (true) {
                    Segment s = queue.take();
                    if (s == eof) {
                        to.shutdownOutput(); // half-close: the other direction may still be draining
                        clean = true;
                        break;
                    }
                    long due = s.arrival + halfRttNanos;
                    for (long now = System.nanoTime(); now < due; now = System.nanoTime()) {
                        LockSupport.parkNanos(due - now);
                    }
                    int n = s.data.remaining();
                    while (s.data.hasRemaining()) {
                        out.write(s.data);
                    }
                    long added = System.nanoTime() - s.arrival;
                    segments.incrementAndGet();
                    delaySum.addAndGet(added);
                    delayMax.accumulate(added);
                    bytes.addAndGet(n);
                    free.offer(s.data);
                }
            } catch (IOException | InterruptedException ignored) {
                // connection ended
            } finally {
                if (!clean || open.decrementAndGet() == 0) {
                    closeQuietly(from);
                    closeQuietly(to);
                }
                done.run();
            }
        });
    }

    private void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already closed
        }
        sockets.remove(s);
    }

    /** Stops accepting and cuts every proxied connection. Idempotent. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        listener.close();
        for (Socket s : sockets) {
            closeQuietly(s);
        }
    }
}
