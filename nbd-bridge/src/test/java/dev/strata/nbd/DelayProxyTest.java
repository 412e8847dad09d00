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
}
