package dev.strata.memory;

import static dev.strata.core.remote.RemoteFrameDescriptor.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.strata.core.remote.RemoteStatus;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The TCP client against a scripted fake node on a raw socket: matching by id, timeouts, lost connections. */
class TcpClientTest {
    private ServerSocket server;
    private Arena arena;

    @BeforeEach
    void start() throws IOException {
        server = new ServerSocket(0, 4, java.net.InetAddress.getLoopbackAddress());
        arena = Arena.ofShared();
    }

    @AfterEach
    void stop() throws IOException {
        server.close();
        arena.close();
    }

    private MemoryNodeClient client(Duration timeout) {
        return MemoryNodeClient.connect(new InetSocketAddress("127.0.0.1", server.getLocalPort()),
                ClientOptions.defaults().withRequestTimeout(timeout));
    }

    /** Reads one request; returns {opcode, id}. */
    private static long[] request(DataInputStream in) throws IOException {
        byte[] h = new byte[HEADER_LENGTH];
        in.readFully(h);
        ByteBuffer b = ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN);
        in.skipNBytes(b.getInt(0) - HEADER_LENGTH);
        return new long[] {b.get(OPCODE_OFFSET) & 0xff, b.getLong(REQUEST_ID_OFFSET)};
    }

    private static byte[] answer(int op, long id, int payload, byte fill) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_LENGTH + payload).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(HEADER_LENGTH + payload).put((byte) op).put((byte) 0).putShort((short) 0).putLong(id);
        b.putLong(0).putLong(0).putLong(0).putLong(0);
        while (b.hasRemaining()) {
            b.put(fill);
        }
        return b.array();
    }

    @Test
    void answersInAnyOrderAreMatchedById() throws Exception {
        try (MemoryNodeClient c = client(Duration.ofSeconds(10)); Socket s = server.accept()) {
            DataInputStream in = new DataInputStream(s.getInputStream());
            List<MemorySegment> dsts = new ArrayList<>();
            List<CompletableFuture<Void>> fs = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                MemorySegment d = arena.allocate(100_000);
                dsts.add(d);
                fs.add(c.read(1, 0, d));
            }
            long[] ids = new long[3];
            for (int i = 0; i < 3; i++) {
                ids[i] = request(in)[1];
            }
            OutputStream out = s.getOutputStream();
            for (int i = 2; i >= 0; i--) {
                byte[] a = answer(OP_READ, ids[i], 100_000, (byte) (i + 1));
                out.write(a, 0, 5000); // dribbled: the payload arrives over several socket reads
                out.flush();
                out.write(a, 5000, a.length - 5000);
            }
            for (int i = 0; i < 3; i++) {
                fs.get(i).join();
                MemorySegment expect = arena.allocate(100_000);
                expect.fill((byte) (i + 1));
                assertEquals(-1, dsts.get(i).mismatch(expect), "read " + i);
            }
        }
    }

    @Test
    void aLateAnswerAfterTimeoutIsNeverCopiedIntoTheCallersSegment() throws Exception {
        try (MemoryNodeClient c = client(Duration.ofMillis(200)); Socket s = server.accept()) {
            DataInputStream in = new DataInputStream(s.getInputStream());
            MemorySegment dst = arena.allocate(65536);
            CompletableFuture<Void> f = c.read(1, 0, dst);
            long id = request(in)[1];
            assertEquals(RemoteStatus.TIMEOUT, RemoteMemoryContract.statusOf(f));
            s.getOutputStream().write(answer(OP_READ, id, 65536, (byte) 0x77));
            CompletableFuture<Long> cas = c.compareAndSwap(1, 0, 0, 1);
            long[] next = request(in);
            assertEquals(OP_CAS, next[0]);
            s.getOutputStream().write(answer(OP_CAS, next[1], 0, (byte) 0));
            assertEquals(0L, cas.join());
            assertEquals(-1, dst.mismatch(arena.allocate(65536)), "the late payload was dropped");
        }
    }

    @Test
    void aConnectionLostMidAnswerFailsTheRequestAsUnavailable() throws Exception {
        try (MemoryNodeClient c = client(Duration.ofSeconds(10))) {
            CompletableFuture<Void> f;
            CompletableFuture<Void> g;
            try (Socket s = server.accept()) {
                DataInputStream in = new DataInputStream(s.getInputStream());
                f = c.read(1, 0, arena.allocate(50_000));
                g = c.read(1, 0, arena.allocate(4096));
                long id = request(in)[1];
                request(in);
                s.getOutputStream().write(answer(OP_READ, id, 50_000, (byte) 1), 0, HEADER_LENGTH + 1000);
                s.getOutputStream().flush();
            }
            assertEquals(RemoteStatus.UNAVAILABLE, RemoteMemoryContract.statusOf(f));
            assertEquals(RemoteStatus.UNAVAILABLE, RemoteMemoryContract.statusOf(g));
            assertEquals(RemoteStatus.UNAVAILABLE, RemoteMemoryContract.statusOf(c.read(1, 0, arena.allocate(8))),
                    "fails fast while disconnected");
        }
    }

    @Test
    void anAnswerWithABadLengthClosesTheConnection() throws Exception {
        try (MemoryNodeClient c = client(Duration.ofSeconds(10)); Socket s = server.accept()) {
            DataInputStream in = new DataInputStream(s.getInputStream());
            CompletableFuture<Void> f = c.read(1, 0, arena.allocate(16));
            long id = request(in)[1];
            byte[] a = answer(OP_READ, id, 16, (byte) 1);
            ByteBuffer.wrap(a).order(ByteOrder.LITTLE_ENDIAN).putInt(0, MAX_FRAME + 1);
            s.getOutputStream().write(a);
            assertEquals(RemoteStatus.UNAVAILABLE, RemoteMemoryContract.statusOf(f));
            assertEquals(-1, s.getInputStream().read(), "client closed the connection");
        }
    }
}
