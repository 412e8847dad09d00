package dev.strata.nbd;

import static dev.strata.nbd.internal.Proto.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.nbd.backend.MemoryBackend;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Hostile and broken clients: malformed handshakes, unknown options, oversized lengths, out-of-range
 * offsets, truncated frames. The server answers with an error or closes that one connection; a
 * healthy client keeps working throughout, and claimed lengths never turn into heap.
 */
@Timeout(60)
class BadInputTest {
    private static final long SIZE = 16 << 20;
    private MemoryBackend disk;
    private NbdServer server;
    private NbdClient healthy;

    @BeforeEach
    void start() throws Exception {
        disk = new MemoryBackend(SIZE);
        server = NbdServer.start(0, new Export("d", "", disk, false));
        healthy = NbdClient.connect("127.0.0.1", server.port(), "d");
        healthy.write(0, new byte[] {1, 2, 3, 4}, false);
    }

    @AfterEach
    void stop() throws Exception {
        healthy.close();
        server.close();
        disk.close();
    }

    private void assertHealthyStillWorks() throws IOException {
        assertArrayEquals(new byte[] {1, 2, 3, 4}, healthy.read(0, 4));
    }

    /** A raw connection past the server greeting. */
    static final class Raw implements AutoCloseable {
        final Socket s;
        final DataInputStream in;
        final DataOutputStream out;

        Raw(int port) throws IOException {
            s = new Socket("127.0.0.1", port);
            s.setSoTimeout(10_000);
            in = new DataInputStream(s.getInputStream());
            out = new DataOutputStream(s.getOutputStream());
            assertEquals(NBDMAGIC, in.readLong());
            assertEquals(IHAVEOPT, in.readLong());
            in.readUnsignedShort();
        }

        void option(int opt, int len, byte[] body) throws IOException {
            out.writeLong(IHAVEOPT);
            out.writeInt(opt);
            out.writeInt(len);
            out.write(body);
            out.flush();
        }

        /** Returns the reply type of the next option reply, skipping its data. */
        int reply() throws IOException {
            assertEquals(OPT_REPLY_MAGIC, in.readLong());
            in.readInt();
            int type = in.readInt();
            in.skipNBytes(in.readInt());
            return type;
        }

        /** GO to export "d" with simple replies. */
        void go() throws IOException {
            option(OPT_GO, 7, new byte[] {0, 0, 0, 1, 'd', 0, 0});
            int t;
            while ((t = reply()) != REP_ACK) {
                assertEquals(REP_INFO, t);
            }
        }

        void request(int flags, int type, long cookie, long offset, int length) throws IOException {
            out.writeInt(REQUEST_MAGIC);
            out.writeShort(flags);
            out.writeShort(type);
            out.writeLong(cookie);
            out.writeLong(offset);
            out.writeInt(length);
            out.flush();
        }

        /** Reads a simple reply header and returns its error. */
        int simpleReply(long cookie) throws IOException {
            assertEquals(SIMPLE_REPLY_MAGIC, in.readInt());
            int err = in.readInt();
            assertEquals(cookie, in.readLong());
            return err;
        }

        boolean closedByServer() throws IOException {
            try {
                return in.read() < 0;
            } catch (SocketTimeoutException e) {
                return false;
            } catch (IOException e) {
                return true; // reset
            }
        }

        @Override
        public void close() throws IOException {
            s.close();
        }
    }

    @Test
    void clientWithoutFixedNewstyleFlagIsDisconnected() throws Exception {
        try (Raw r = new Raw(server.port())) {
            r.out.writeInt(0xdead0000);
            r.out.flush();
            assertTrue(r.closedByServer());
        }
        assertHealthyStillWorks();
    }

    @Test
    void badOptionMagicClosesOnlyThatConnection() throws Exception {
        try (Raw r = new Raw(server.port())) {
            r.out.writeInt(C_FLAG_FIXED_NEWSTYLE);
            r.out.writeLong(0x1122334455667788L);
            r.out.flush();
            assertTrue(r.closedByServer());
        }
        assertHealthyStillWorks();
    }

    @Test
    void unknownOptionIsRefusedAndHagglingContinues() throws Exception {
        try (Raw r = new Raw(server.port())) {
            r.out.writeInt(C_FLAG_FIXED_NEWSTYLE | C_FLAG_NO_ZEROES);
            r.option(0x4242, 3, new byte[] {1, 2, 3});
            assertEquals(REP_ERR_UNSUP, r.reply());
            r.option(OPT_INFO, 3, new byte[] {0, 0, 0}); // truncated body
            assertEquals(REP_ERR_INVALID, r.reply());
            r.option(OPT_GO, 8, new byte[] {0, 0, 0, 2, 'n', 'o', 0, 0});
            assertEquals(REP_ERR_UNKNOWN, r.reply());
            r.option(OPT_SET_META_CONTEXT, 4, new byte[] {0x7f, 0, 0, 0}); // absurd name length
            assertEquals(REP_ERR_INVALID, r.reply());
            r.go();
            r.request(0, CMD_READ, 9, 0, 4);
            assertEquals(0, r.simpleReply(9));
            assertArrayEquals(new byte[] {1, 2, 3, 4}, r.in.readNBytes(4));
        }
    }

    @Test
    void oversizedOptionLengthIsNeverAllocated() throws Exception {
        try (Raw r = new Raw(server.port())) {
            r.out.writeInt(C_FLAG_FIXED_NEWSTYLE);
            r.option(OPT_GO, 0xfffffff0, new byte[16]);
            assertTrue(r.closedByServer());
        }
        try (Raw r = new Raw(server.port())) {
            r.out.writeInt(C_FLAG_FIXED_NEWSTYLE);
            r.option(OPT_LIST, 100_000, new byte[100_000]); // skippable: refused, connection lives
            assertEquals(REP_ERR_TOO_BIG, r.reply());
            r.go();
        }
        assertHealthyStillWorks();
    }

    @Test
    void badRequestsGetErrorsAndTheConnectionStaysUsable() throws Exception {
        try (Raw r = new Raw(server.port())) {
            r.out.writeInt(C_FLAG_FIXED_NEWSTYLE | C_FLAG_NO_ZEROES);
            r.go();
            r.request(0, CMD_READ, 1, SIZE - 2, 4);
            assertEquals(EINVAL, r.simpleReply(1));
            r.request(0, CMD_READ, 2, -4096, 4096); // offset 2^64-4096: overflow-safe check
            assertEquals(EINVAL, r.simpleReply(2));
            r.request(0, CMD_READ, 3, 0, 0x7fffffff); // over the advertised maximum
            assertEquals(EINVAL, r.simpleReply(3));
            r.request(0, CMD_TRIM, 4, SIZE, 1);
            assertEquals(ENOSPC, r.simpleReply(4));
            r.request(0, 0x77, 5, 0, 0); // unknown command
            assertEquals(EINVAL, r.simpleReply(5));
            r.request(0x8000, CMD_READ, 6, 0, 4); // unknown flag
            assertEquals(EINVAL, r.simpleReply(6));
            r.request(0, CMD_BLOCK_STATUS, 7, 0, 4096); // no meta context negotiated
            assertEquals(EINVAL, r.simpleReply(7));
            r.request(0, CMD_WRITE, 8, SIZE - 2, 4); // out of range write: payload skipped
            r.out.write(new byte[4]);
            r.out.flush();
            assertEquals(ENOSPC, r.simpleReply(8));
            r.request(0, CMD_READ, 10, 0, 4);
            assertEquals(0, r.simpleReply(10));
            assertArrayEquals(new byte[] {1, 2, 3, 4}, r.in.readNBytes(4));
        }
        assertHealthyStillWorks();
    }

    @Test
    void hugeWritePayloadClaimClosesTheConnectionWithoutAllocating() throws Exception {
        long before = usedHeapAfterGc();
        for (int i = 0; i < 50; i++) {
            try (Raw r = new Raw(server.port())) {
                r.out.writeInt(C_FLAG_FIXED_NEWSTYLE | C_FLAG_NO_ZEROES);
                r.go();
                r.request(0, CMD_WRITE, 1, 0, 0xfffffff0); // claims ~4 GiB of payload
                r.out.write(new byte[1000]);
                r.out.flush();
                assertTrue(r.closedByServer());
            }
        }
        long grown = usedHeapAfterGc() - before;
        assertTrue(grown < 32L << 20, "heap grew by " + grown);
        assertHealthyStillWorks();
    }

    @Test
    void truncatedFramesEndOnlyTheirConnection() throws Exception {
        for (int cut : new int[] {3, 10, 20, 27}) {
            try (Raw r = new Raw(server.port())) {
                r.out.writeInt(C_FLAG_FIXED_NEWSTYLE | C_FLAG_NO_ZEROES);
                r.go();
                byte[] frame = new byte[28];
                java.nio.ByteBuffer.wrap(frame).putInt(REQUEST_MAGIC).putShort((short) 0)
                        .putShort((short) CMD_WRITE).putLong(1).putLong(0).putInt(1 << 20);
                r.out.write(Arrays.copyOf(frame, cut));
                r.out.flush();
            }
        }
        try (Raw r = new Raw(server.port())) { // half a payload, then gone
            r.out.writeInt(C_FLAG_FIXED_NEWSTYLE | C_FLAG_NO_ZEROES);
            r.go();
            r.request(0, CMD_WRITE, 1, 0, 1 << 20);
            r.out.write(new byte[1000]);
            r.out.flush();
        }
        Tools.await(Duration.ofSeconds(10), "dead connections to be dropped", () -> server.connections() == 1);
        assertHealthyStillWorks();
        assertArrayEquals(new byte[] {1, 2, 3, 4}, healthy.read(0, 4), "partial write must not land");
    }

    @Test
    void manyConcurrentClaimsOfMaximumReadsStayWithinTheBudget() throws Exception {
        long before = usedHeapAfterGc();
        try (Raw r = new Raw(server.port())) {
            r.out.writeInt(C_FLAG_FIXED_NEWSTYLE | C_FLAG_NO_ZEROES);
            r.go();
            for (int i = 0; i < 64; i++) { // 64 x 32 MiB = 2 GiB claimed, never read by us
                r.request(0, CMD_READ, i, 0, 32 << 20);
            }
            r.s.setSoTimeout(200);
            try {
                while (true) {
                    r.in.readNBytes(1 << 20);
                    break;
                }
            } catch (SocketTimeoutException | EOFException ignored) {
                // not reading replies on purpose: the server must block on its budget, not buffer
            }
            long grown = usedHeapAfterGc() - before;
            assertTrue(grown < 200L << 20, "heap grew by " + grown);
        }
        assertHealthyStillWorks();
    }

    @Test
    void closingTheServerMidTransferReturnsOnlyWhenConnectionsAreDone() throws Exception {
        MemoryBackend big = new MemoryBackend(64 << 20);
        NbdServer s = NbdServer.start(0, new Export("d", "", big, false));
        try (Raw r = new Raw(s.port())) {
            r.out.writeInt(C_FLAG_FIXED_NEWSTYLE | C_FLAG_NO_ZEROES);
            r.go();
            for (int i = 0; i < 8; i++) {
                r.request(0, CMD_READ, i, 0, 32 << 20); // replies are sent straight from big's memory
            }
            r.in.readNBytes(1 << 20);
            s.close();
            assertEquals(0, s.connections(), "close() returned while a connection was still serving");
        } finally {
            s.close();
            big.close(); // unmapping is safe only because close() waited for the writers
        }
        assertHealthyStillWorks();
    }

    private static long usedHeapAfterGc() {
        var mem = ManagementFactory.getMemoryMXBean();
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return mem.getHeapMemoryUsage().getUsed();
    }
}
