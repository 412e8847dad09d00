package dev.strata.memory;

import static dev.strata.core.remote.RemoteFrameDescriptor.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.core.PageId;
import dev.strata.core.remote.RemoteRegion;
import dev.strata.core.remote.RemoteStatus;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.Socket;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Malformed frames over a raw socket get a precise error; the node and its other connections keep serving. */
class BadFrameTest {
    private MemoryNode node;

    @BeforeEach
    void start() throws Exception {
        node = MemoryNode.start(MemoryNodeConfig.defaults().withPort(0).withCapacity(16L << 20).withIoThreads(1));
    }

    @AfterEach
    void stop() {
        node.close();
    }

    private Socket connect() throws IOException {
        Socket s = new Socket("127.0.0.1", node.port());
        s.setSoTimeout(10_000);
        s.setTcpNoDelay(true);
        return s;
    }

    static byte[] frame(int length, int op, long id, long a0, long a1, long a2, long a3, int payload) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_LENGTH + payload).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(length).put((byte) op).put((byte) 0).putShort((short) 0).putLong(id)
                .putLong(a0).putLong(a1).putLong(a2).putLong(a3);
        return b.array();
    }

    static byte[] frame(int op, long id, long a0, long a1, long a2, long a3, int payload) {
        return frame(HEADER_LENGTH + payload, op, id, a0, a1, a2, a3, payload);
    }

    /** Reads one answer; returns {status, id, payload length}. */
    static long[] answer(InputStream in) throws IOException {
        DataInputStream d = new DataInputStream(in);
        byte[] h = new byte[HEADER_LENGTH];
        d.readFully(h);
        ByteBuffer b = ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN);
        int len = b.getInt(LENGTH_OFFSET);
        d.skipNBytes(len - HEADER_LENGTH);
        return new long[] {b.get(STATUS_OFFSET) & 0xff, b.getLong(REQUEST_ID_OFFSET), len - HEADER_LENGTH};
    }

    private static RemoteStatus status(long[] a) {
        return RemoteStatus.of((int) a[0]);
    }

    @Test
    void unknownOpcodeGetsAnErrorAndTheConnectionStaysUsable() throws Exception {
        try (Socket s = connect()) {
            OutputStream out = s.getOutputStream();
            out.write(frame(0x7f, 1, 0, 0, 0, 0, 0));
            out.write(frame(OP_PING, 2, 0, 0, 0, 0, 0));
            long[] a = answer(s.getInputStream());
            assertEquals(RemoteStatus.UNKNOWN_OPCODE, status(a));
            assertEquals(1, a[1]);
            assertEquals(RemoteStatus.OK, status(answer(s.getInputStream())));
        }
    }

    @Test
    void lengthFieldsOutOfBoundsGetBadFrameAndClose() throws Exception {
        for (int len : new int[] {MAX_FRAME + 1, Integer.MAX_VALUE, -1, 0, HEADER_LENGTH - 1}) {
            try (Socket s = connect()) {
                s.getOutputStream().write(frame(len, OP_WRITE, 9, 0, 0, 0, 0, 0));
                long[] a = answer(s.getInputStream());
                assertEquals(RemoteStatus.BAD_FRAME, status(a), "length " + len);
                assertEquals(-1, s.getInputStream().read(), "connection closed after length " + len);
            } catch (java.net.SocketException reset) {
                // the close may race our read as a reset; still a closed connection
            }
        }
        assertServes();
    }

    @Test
    void oversizedAndOutOfRangeRequestsAreRefused() throws Exception {
        RemoteRegion r;
        try (MemoryNodeClient c = node.localClient()) {
            r = c.allocateRegion(8192).join();
        }
        try (Socket s = connect()) {
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            out.write(frame(OP_READ, 1, r.key(), 0, MAX_PAYLOAD + 1L, 0, 0));
            assertEquals(RemoteStatus.TOO_LARGE, status(answer(in)));
            out.write(frame(OP_READ, 2, r.key(), 0, Long.MAX_VALUE, 0, 0));
            assertEquals(RemoteStatus.TOO_LARGE, status(answer(in)));
            out.write(frame(OP_READ, 3, r.key(), 8000, 4096, 0, 0));
            assertEquals(RemoteStatus.OUT_OF_RANGE, status(answer(in)));
            out.write(frame(OP_READ, 4, r.key(), -4096, 4096, 0, 0));
            assertEquals(RemoteStatus.OUT_OF_RANGE, status(answer(in)));
            out.write(frame(OP_READ, 5, r.key() + 1, 0, 16, 0, 0));
            assertEquals(RemoteStatus.BAD_KEY, status(answer(in)));
            out.write(frame(OP_WRITE, 6, r.key(), 0, 100, 0, 16)); // declared 100, carries 16
            assertEquals(RemoteStatus.BAD_FRAME, status(answer(in)));
            out.write(frame(OP_PAGE_GET, 7, PageId.of(0, 1), 0, 0, crcAndClass(0, 200), 0));
            assertEquals(RemoteStatus.OUT_OF_RANGE, status(answer(in)));
            out.write(frame(OP_PAGE_PUT, 8, PageId.of(0, 1), 1, 1, crcAndClass(0, 0), 100)); // not a page
            assertEquals(RemoteStatus.BAD_FRAME, status(answer(in)));
            out.write(frame(OP_PAGE_PUT, 9, PageId.of(0, 1), 1, 1, crcAndClass(12345, 0), 4096)); // wrong CRC
            assertEquals(RemoteStatus.CORRUPT, status(answer(in)));
            out.write(frame(OP_FENCE, 10, 1 << 20, 1, 0, 0, 0));
            assertEquals(RemoteStatus.OUT_OF_RANGE, status(answer(in)));
            out.write(frame(OP_REGION_ALLOC, 11, 0, 0, 1L << 50, 0, 0));
            assertEquals(RemoteStatus.OUT_OF_RANGE, status(answer(in)));
            out.write(frame(OP_REGION_ALLOC, 12, 0, 0, 1L << 30, 0, 0));
            assertEquals(RemoteStatus.FULL, status(answer(in)));
            out.write(frame(OP_PING, 13, 0, 0, 0, 0, 0));
            assertEquals(RemoteStatus.OK, status(answer(in)));
        }
        assertEquals(0, node.stats().pages(), "the corrupt page was not stored");
        assertTrue(node.stats().badFrames() >= 10);
    }

    @Test
    void floodOfHugeClaimsDoesNotGrowTheHeap() throws Exception {
        var mem = ManagementFactory.getMemoryMXBean();
        System.gc();
        long before = mem.getHeapMemoryUsage().getUsed();
        List<Socket> open = new ArrayList<>();
        try {
            for (int i = 0; i < 40; i++) {
                Socket s = connect();
                open.add(s);
                // claims the largest legal frame, sends only its header: the node may hold at most one frame
                s.getOutputStream().write(frame(MAX_FRAME, OP_WRITE, i, 0, 0, MAX_PAYLOAD, 0, 0));
                Socket t = connect();
                open.add(t);
                t.getOutputStream().write(frame(Integer.MAX_VALUE - 7, OP_WRITE, i, 0, 0, 0, 0, 0));
            }
            assertServes();
            System.gc();
            long after = mem.getHeapMemoryUsage().getUsed();
            assertTrue(after - before < (32L << 20), "heap grew by " + (after - before) + " bytes");
        } finally {
            for (Socket s : open) {
                s.close();
            }
        }
        assertServes();
    }

    @Test
    void truncatedFrameThenCloseLeavesTheNodeServing() throws Exception {
        try (Socket s = connect()) {
            byte[] f = frame(OP_PAGE_PUT, 1, PageId.of(0, 1), 1, 1, crcAndClass(0, 0), 4096);
            s.getOutputStream().write(f, 0, 100);
        }
        assertServes();
        assertEquals(0, node.stats().pages());
    }

    private void assertServes() throws Exception {
        try (MemoryNodeClient c = MemoryNodeClient.connect(new InetSocketAddress("127.0.0.1", node.port()),
                ClientOptions.defaults().withRequestTimeout(java.time.Duration.ofSeconds(10)))) {
            var seg = java.lang.foreign.Arena.global().allocate(4096);
            assertEquals(RemoteStatus.OK, c.put(PageId.of(9, 9), 1, 1, seg).join());
            assertEquals(1, c.get(PageId.of(9, 9), 0, seg).join().lsn());
            assertEquals(RemoteStatus.OK, c.free(PageId.of(9, 9), 1).join());
        } catch (RuntimeException e) {
            if (e.getCause() instanceof EOFException) {
                throw new AssertionError("node stopped serving", e);
            }
            throw e;
        }
    }
}
