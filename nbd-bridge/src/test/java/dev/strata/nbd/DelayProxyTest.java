package dev.strata.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.nbd.backend.MemoryBackend;
import dev.strata.testkit.DelayProxy;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** testkit's delay proxy adds the RTT it is asked for, measures it, and does not serialize requests. */
@Timeout(60)
class DelayProxyTest {
    @Test
    void addsTheRoundTripTimeWithoutSerializingConcurrentRequests() throws Exception {
        Duration rtt = Duration.ofMillis(40);
        try (MemoryBackend disk = new MemoryBackend(8 << 20);
             NbdServer server = NbdServer.start(0, new Export("d", "", disk, false));
             DelayProxy proxy = DelayProxy.start(new InetSocketAddress("127.0.0.1", server.port()), rtt)) {
            disk.writeAt(0, java.lang.foreign.MemorySegment.ofArray(new byte[] {5, 6, 7}));
            List<NbdClient> clients = new ArrayList<>();
            try {
                for (int i = 0; i < 8; i++) {
                    clients.add(NbdClient.connect("127.0.0.1", proxy.port(), "d"));
                }
                long t0 = System.nanoTime();
                assertArrayEquals(new byte[] {5, 6, 7}, clients.get(0).read(0, 3));
                long one = System.nanoTime() - t0;
                assertTrue(one >= rtt.toNanos(), "one request took " + one / 1e6 + " ms");
                assertTrue(one < rtt.toNanos() + 60_000_000L, "one request took " + one / 1e6 + " ms");
                t0 = System.nanoTime();
                try (ExecutorService ex = Executors.newFixedThreadPool(8)) {
                    List<Future<byte[]>> fs = new ArrayList<>();
                    for (NbdClient c : clients) {
                        fs.add(ex.submit(() -> c.read(0, 3)));
                    }
                    for (Future<byte[]> f : fs) {
                        assertArrayEquals(new byte[] {5, 6, 7}, f.get());
                    }
                }
                long eight = System.nanoTime() - t0;
                assertTrue(eight < 2 * rtt.toNanos() + 60_000_000L, "8 concurrent requests took " + eight / 1e6 + " ms");
                long[] d = proxy.addedDelayNanos();
                assertTrue(d[0] >= rtt.toNanos() / 2 && d[0] < rtt.toNanos() / 2 + 25_000_000L,
                        "mean added delay per direction " + d[0] / 1e6 + " ms");
            } finally {
                for (NbdClient c : clients) {
                    c.close();
                }
            }
        }
    }

    /** 48 MiB each way through many pipelined requests on 4 connections arrive intact and no earlier than rtt/2. */
    @Test
    void bulkTransfersArriveIntactAndDelayed() throws Exception {
        Duration rtt = Duration.ofMillis(10);
        int size = 48 << 20;
        byte[] data = new byte[size];
        new java.util.Random(9).nextBytes(data);
        try (MemoryBackend disk = new MemoryBackend(size);
             NbdServer server = NbdServer.start(0, new Export("d", "", disk, false));
             DelayProxy proxy = DelayProxy.start(new InetSocketAddress("127.0.0.1", server.port()), rtt, 1 << 20);
             dev.strata.nbd.backend.NbdRemoteBackend remote =
                     new dev.strata.nbd.backend.NbdRemoteBackend("127.0.0.1", proxy.port(), "d", 4)) {
            remote.writeAt(0, java.lang.foreign.MemorySegment.ofArray(data));
            remote.sync();
            byte[] onDisk = new byte[size];
            disk.readAt(0, java.lang.foreign.MemorySegment.ofArray(onDisk));
            assertArrayEquals(data, onDisk, "written through the proxy");
            try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofShared()) {
                java.lang.foreign.MemorySegment back = a.allocate(size);
                List<Future<?>> fs = new ArrayList<>();
                try (ExecutorService ex = Executors.newFixedThreadPool(8)) {
                    for (int i = 0; i < 48; i++) {
                        long off = (long) i << 20;
                        fs.add(ex.submit(() -> {
                            remote.readAt(off, back.asSlice(off, 1 << 20));
                            return null;
                        }));
                    }
                    for (Future<?> f : fs) {
                        f.get();
                    }
                }
                assertArrayEquals(data, back.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), "read through the proxy");
            }
            // the proxy accounts a segment just after its write returns, possibly after the client got it
            TestWait.until(Duration.ofSeconds(10), "proxy accounted every byte", () -> proxy.bytesForwarded() >= 2L * size);
            assertTrue(proxy.meanAddedDelayNanosPerByte() >= rtt.toNanos() / 2,
                    "per-byte delay " + proxy.meanAddedDelayNanosPerByte() / 1e6 + " ms");
            long[] late = proxy.timerLatenessNanos();
            assertTrue(late[2] > 0 && late[0] >= 0, "timer lateness reported: " + java.util.Arrays.toString(late));
        }
    }
}
