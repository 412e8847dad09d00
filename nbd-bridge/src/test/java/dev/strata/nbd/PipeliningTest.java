package dev.strata.nbd;

import static dev.strata.nbd.internal.Proto.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.nbd.backend.MemoryBackend;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Many requests in flight on one connection are served concurrently and answered by cookie: a
 * backend whose reads only complete once 8 of them run at the same time would deadlock a server
 * that serves one request at a time (as r3map's does).
 */
@Timeout(30)
class PipeliningTest {
    /** Reads block until {@code n} reads are in progress together. */
    static final class RendezvousBackend implements Backend {
        final MemoryBackend mem = new MemoryBackend(1 << 20);
        final CountDownLatch together;

        RendezvousBackend(int n) {
            together = new CountDownLatch(n);
        }

        public long size() {
            return mem.size();
        }

        public void readAt(long offset, MemorySegment dst) throws IOException {
            together.countDown();
            try {
                if (!together.await(10, TimeUnit.SECONDS)) {
                    throw new IOException("reads were not served concurrently");
                }
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
            mem.readAt(offset, dst);
        }

        public void writeAt(long offset, MemorySegment src) {
            mem.writeAt(offset, src);
        }

        public void sync() {}

        public void close() {
            mem.close();
        }
    }

    @Test
    void eightPipelinedReadsAreServedConcurrentlyAndMatchedByCookie() throws Exception {
        try (RendezvousBackend backend = new RendezvousBackend(8);
             NbdServer server = NbdServer.start(0, new Export("d", "", backend, false));
             BadInputTest.Raw r = new BadInputTest.Raw(server.port())) {
            r.out.writeInt(C_FLAG_FIXED_NEWSTYLE | C_FLAG_NO_ZEROES);
            r.go();
            for (int i = 1; i <= 8; i++) {
                r.request(0, CMD_READ, 1000 + i, i * 4096L, 4096);
            }
            Set<Long> cookies = new HashSet<>();
            for (int i = 0; i < 8; i++) {
                assertEquals(SIMPLE_REPLY_MAGIC, r.in.readInt());
                assertEquals(0, r.in.readInt(), "read error");
                cookies.add(r.in.readLong());
                r.in.skipNBytes(4096);
            }
            assertEquals(8, cookies.size());
            assertTrue(cookies.stream().allMatch(c -> c > 1000 && c <= 1008), cookies.toString());
        }
    }
}
