package dev.strata.nbd;

import dev.strata.nbd.internal.BufferPool;
import dev.strata.nbd.internal.Handshake;
import dev.strata.nbd.internal.Session;
import dev.strata.nbd.internal.Transmission;
import dev.strata.nbd.internal.Wire;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;

/**
 * An NBD server (fixed newstyle) serving one or more {@link Export}s over TCP.
 *
 * <pre>
 *   nbd-accept ──accept──► nbd-conn-N (handshake, then reads requests; checks every field first)
 *                                 │ in-memory backend: served inline on nbd-conn-N
 *                                 │ any other backend: one virtual thread per request (nbd-conn-N-io-M)
 *                                 ▼
 *                           Backend ──► ReplyWriter (combining, gathering writes, replies matched by cookie)
 * </pre>
 *
 * Every connection is independent: many requests in flight per connection, any number of
 * connections per export (multi-conn: all share the backend, so FLUSH on one covers writes
 * completed on all). Closing the server closes the listening socket and every connection; the
 * exports' backends stay open (their owner closes them).
 */
public final class NbdServer implements AutoCloseable {
    private final ServerSocketChannel listener;
    private final int port;
    private final BufferPool pool = new BufferPool(1024);
    private final Map<String, Export> exports = new LinkedHashMap<>();
    private final SSLContext tls;
    private final boolean tlsRequired;
    private final Thread acceptor;
    private final Set<Wire> connections = ConcurrentHashMap.newKeySet();
    private final Set<Thread> connectionThreads = ConcurrentHashMap.newKeySet();
    private final AtomicInteger connectionIds = new AtomicInteger();
    private final AtomicLong requests = new AtomicLong();
    private volatile boolean closed;

    private NbdServer(ServerSocketChannel listener, List<Export> exports, SSLContext tls, boolean tlsRequired) {
        this.listener = listener;
        try {
            this.port = ((InetSocketAddress) listener.getLocalAddress()).getPort();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        for (Export e : exports) {
            if (this.exports.putIfAbsent(e.name(), e) != null) {
                throw new IllegalArgumentException("duplicate export name '" + e.name() + "'");
            }
        }
        this.tls = tls;
        this.tlsRequired = tlsRequired;
        this.acceptor = Thread.ofPlatform().name("nbd-accept-" + port).daemon()
                .unstarted(this::acceptLoop);
    }

    /**
     * Starts a server on {@code bind:port} (port 0 picks a free one).
     *
     * @param tls         null for plain TCP; otherwise STARTTLS is offered
     * @param tlsRequired refuse every option but STARTTLS/ABORT until TLS is active
     */
    public static NbdServer start(InetAddress bind, int port, List<Export> exports, SSLContext tls,
                                  boolean tlsRequired) throws IOException {
        if (exports.isEmpty()) {
            throw new IllegalArgumentException("no exports");
        }
        ServerSocketChannel ss = ServerSocketChannel.open();
        ss.socket().setReuseAddress(true);
        ss.bind(new InetSocketAddress(bind, port), 128);
        NbdServer server = new NbdServer(ss, exports, tls, tlsRequired);
        server.acceptor.start();
        return server;
    }

    /** Loopback server without TLS. */
    public static NbdServer start(int port, Export... exports) throws IOException {
        return start(InetAddress.getLoopbackAddress(), port, List.of(exports), null, false);
    }

    public int port() {
        return port;
    }

    /** Requests received since start, all connections. */
    public long requests() {
        return requests.get();
    }

    /** Connections currently open. */
    public int connections() {
        return connections.size();
    }

    private Optional<Export> lookup(String name) {
        Export e = exports.get(name);
        if (e == null && name.isEmpty()) {
            return exports.values().stream().findFirst();
        }
        return Optional.ofNullable(e);
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel s;
            try {
                s = listener.accept();
            } catch (IOException e) {
                if (closed) {
                    return;
                }
                continue;
            }
            int id = connectionIds.incrementAndGet();
            Thread t = Thread.ofPlatform().name("nbd-conn-" + id).daemon().unstarted(() -> {
                try {
                    serve(s, id);
                } finally {
                    connectionThreads.remove(Thread.currentThread());
                }
            });
            connectionThreads.add(t);
            t.start();
        }
    }

    private void serve(SocketChannel s, int id) {
        Wire wire;
        try {
            wire = new Wire(s);
        } catch (IOException e) {
            closeQuietly(s);
            return;
        }
        connections.add(wire);
        try {
            if (closed) {
                return;
            }
            Optional<Session> session = new Handshake(wire, List.copyOf(exports.values()), this::lookup,
                    tls, tlsRequired).run();
            if (session.isEmpty()) {
                return;
            }
            var workers = Thread.ofVirtual().name("nbd-conn-" + id + "-io-", 0).factory();
            new Transmission(wire, session.get(), r -> workers.newThread(r).start(), requests, pool).run();
        } catch (IOException | RuntimeException e) {
            // a broken or hostile client ends its own connection only
        } finally {
            connections.remove(wire);
            wire.release();
        }
    }

    private static void closeQuietly(SocketChannel s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already broken
        }
    }

    /** Stops accepting, closes every connection and waits until their requests have finished. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            listener.close();
        } catch (IOException ignored) {
            // nothing useful to do
        }
        try {
            acceptor.join(5000);
            for (Wire w : new ArrayList<>(connections)) {
                w.close();
            }
            // connection threads end after their in-flight requests; only then may the caller close
            // the backends (replies can be sent straight from a backend's memory)
            for (Thread t : new ArrayList<>(connectionThreads)) {
                t.join(10_000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        pool.close();
    }
}
