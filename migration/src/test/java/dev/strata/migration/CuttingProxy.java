package dev.strata.migration;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/** A loopback TCP proxy whose connections a test can cut at a chosen moment ({@link #cutAll()}). */
final class CuttingProxy implements AutoCloseable {
    private final ServerSocket listener;
    private final InetSocketAddress target;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicInteger cuts = new AtomicInteger();
    private final Thread acceptor;
    private volatile boolean closed;

    CuttingProxy(InetSocketAddress target) throws IOException {
        this.target = target;
        this.listener = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
        this.acceptor = Thread.ofPlatform().name("cutting-proxy-accept").daemon().start(this::accept);
    }

    InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), listener.getLocalPort());
    }

    int cuts() {
        return cuts.get();
    }

    private void accept() {
        while (!closed) {
            try {
                Socket a = listener.accept();
                Socket b = new Socket();
                b.connect(target, 10_000);
                a.setTcpNoDelay(true);
                b.setTcpNoDelay(true);
                sockets.add(a);
                sockets.add(b);
                synchronized (threads) {
                    threads.add(Thread.ofPlatform().name("cutting-proxy-up").daemon().start(() -> pump(a, b)));
                    threads.add(Thread.ofPlatform().name("cutting-proxy-down").daemon().start(() -> pump(b, a)));
                }
            } catch (IOException e) {
                return;
            }
        }
    }

    private void pump(Socket from, Socket to) {
        byte[] buf = new byte[64 * 1024];
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            for (int n; (n = in.read(buf)) >= 0; ) {
                out.write(buf, 0, n);
            }
        } catch (IOException ignored) {
            // cut or closed
        } finally {
            quiet(from);
            quiet(to);
        }
    }

    /** Cuts every connection open now (both sides see a reset or EOF); new ones are still accepted. */
    void cutAll() {
        cuts.incrementAndGet();
        for (Socket s : sockets) {
            quiet(s);
        }
    }

    private void quiet(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        sockets.remove(s);
    }

    @Override
    public void close() throws IOException {
        closed = true;
        listener.close();
        cutAll();
        try {
            acceptor.join();
            List<Thread> copy;
            synchronized (threads) {
                copy = new ArrayList<>(threads);
            }
            for (Thread t : copy) {
                t.join();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
