package dev.strata.memory.bench;

import dev.strata.core.remote.RemoteRegion;
import dev.strata.memory.MemoryNodeClient;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/** The ceilings a copy-based transport on one host runs into, measured in the same run: memcpy and loopback TCP. */
final class Limits {
    private Limits() {}

    /** Bytes/s of {@code MemorySegment.copy} between two 64 MiB native buffers (larger than the caches). */
    static double memcpy(double seconds) {
        try (Arena a = Arena.ofConfined()) {
            long size = 64L << 20;
            MemorySegment src = a.allocate(size), dst = a.allocate(size);
            src.fill((byte) 1);
            dst.fill((byte) 2);
            long bytes = 0;
            long t0 = System.nanoTime(), end = t0 + (long) (seconds * 1e9);
            while (System.nanoTime() < end) {
                MemorySegment.copy(src, 0, dst, 0, size);
                bytes += size;
            }
            return bytes * 1e9 / (System.nanoTime() - t0);
        }
    }

    /** Bytes/s one connection moves over loopback TCP (blocking NIO, 1 MiB writes, a reader thread draining). */
    static double loopbackTcp(double seconds) throws IOException, InterruptedException {
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(new InetSocketAddress("127.0.0.1", 0));
            AtomicLong received = new AtomicLong();
            Thread sink = Thread.ofPlatform().name("loopback-sink").start(() -> {
                try (SocketChannel c = server.accept()) {
                    ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
                    int n;
                    while ((n = c.read(b)) >= 0) {
                        received.addAndGet(n);
                        b.clear();
                    }
                } catch (IOException ignored) {
                    // closed
                }
            });
            long t0;
            long sent = 0;
            try (SocketChannel c = SocketChannel.open(server.getLocalAddress())) {
                ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
                t0 = System.nanoTime();
                long end = t0 + (long) (seconds * 1e9);
                while (System.nanoTime() < end) {
                    b.clear();
                    while (b.hasRemaining()) {
                        sent += c.write(b);
                    }
                }
            }
            sink.join();
            return received.get() * 1e9 / (System.nanoTime() - t0);
        }
    }

    /** Bytes/s of one-sided READs of {@code chunk} bytes from a memory-node region, {@code depth} in flight. */
    static double remoteRead(MemoryNodeClient c, int chunk, int depth, double seconds) {
        RemoteRegion r = c.allocateRegion(64L << 20).join();
        try (Arena a = Arena.ofShared()) {
            List<MemorySegment> bufs = new ArrayList<>();
            for (int i = 0; i < depth; i++) {
                bufs.add(a.allocate(chunk));
            }
            long slots = r.length() / chunk;
            long bytes = 0;
            long t0 = System.nanoTime(), end = t0 + (long) (seconds * 1e9);
            long k = 0;
            List<CompletableFuture<Void>> inflight = new ArrayList<>();
            while (System.nanoTime() < end) {
                inflight.clear();
                for (MemorySegment b : bufs) {
                    inflight.add(c.read(r.key(), (k++ % slots) * chunk, b));
                }
                for (CompletableFuture<Void> f : inflight) {
                    f.join();
                    bytes += chunk;
                }
            }
            double rate = bytes * 1e9 / (System.nanoTime() - t0);
            c.freeRegion(r.key()).join();
            return rate;
        }
    }
}
