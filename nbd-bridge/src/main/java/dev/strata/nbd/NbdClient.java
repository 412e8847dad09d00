package dev.strata.nbd;

import static dev.strata.nbd.internal.Proto.*;

import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.EOFException;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A small NBD client (fixed newstyle, NBD_OPT_GO, simple replies): blocking, one request at a time,
 * or after {@link #startPipelining} many requests in flight from any threads ({@link #submit}).
 * Used for {@code nbd list}, tests, and as the transport of {@link dev.strata.nbd.backend.NbdRemoteBackend}:
 * {@link #readInto} and {@link #writeFrom} move payloads between the socket and a {@link MemorySegment}
 * directly (no heap copies). Not thread-safe.
 */
public final class NbdClient implements AutoCloseable {
    private final SocketChannel socket;
    private final DataInputStream in;
    private final DataOutputStream out;
    private final ByteBuffer header = ByteBuffer.allocate(28);
    private long size;
    private int transmissionFlags;
    private long nextCookie = 1;

    private NbdClient(SocketChannel socket) throws IOException {
        this(socket, Channels.newInputStream(socket), Channels.newOutputStream(socket));
        socket.socket().setTcpNoDelay(true);
    }

    /** Reads the server greeting and answers it; {@code socket} may be null for a handshake-only client. */
    private NbdClient(SocketChannel socket, java.io.InputStream rawIn, java.io.OutputStream rawOut) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(rawIn); // unbuffered: the channel is read directly later
        this.out = new DataOutputStream(new BufferedOutputStream(rawOut, 64 * 1024));
        if (in.readLong() != NBDMAGIC || in.readLong() != IHAVEOPT) {
            throw new IOException("not a fixed-newstyle NBD server");
        }
        in.readUnsignedShort();
        out.writeInt(C_FLAG_FIXED_NEWSTYLE | C_FLAG_NO_ZEROES);
    }

    /** Connects and selects {@code export} with NBD_OPT_GO. */
    public static NbdClient connect(String host, int port, String export) throws IOException {
        SocketChannel s = SocketChannel.open();
        try {
            s.socket().connect(new InetSocketAddress(host, port), 10_000);
            NbdClient c = new NbdClient(s);
            c.go(export);
            return c;
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** The export's size and transmission flags, agreed by NBD_OPT_GO. */
    public record Agreed(long size, int transmissionFlags) {}

    /**
     * Runs the handshake (greeting, NBD_OPT_GO for {@code export}) over streams of a connection that
     * will be handed to someone else for the transmission phase (the kernel, for {@code /dev/nbdX}).
     * Reads exactly the handshake's bytes, nothing after them.
     */
    public static Agreed handshake(java.io.InputStream in, java.io.OutputStream out, String export) throws IOException {
        NbdClient c = new NbdClient(null, in, out);
        c.go(export);
        return new Agreed(c.size, c.transmissionFlags);
    }

    private void go(String export) throws IOException {
        byte[] name = export.getBytes(StandardCharsets.UTF_8);
        option(OPT_GO, ByteBuffer.allocate(6 + name.length).putInt(name.length).put(name).putShort((short) 0).array());
        while (true) {
            OptionReply r = optionReply();
            if (r.type == REP_INFO && r.data.length >= 12 && ByteBuffer.wrap(r.data).getShort() == INFO_EXPORT) {
                ByteBuffer b = ByteBuffer.wrap(r.data, 2, 10);
                size = b.getLong();
                transmissionFlags = Short.toUnsignedInt(b.getShort());
            } else if (r.type == REP_ACK) {
                return;
            } else if (r.type < 0) {
                throw new IOException("GO refused: " + new String(r.data, StandardCharsets.UTF_8));
            }
        }
    }

    /** Names of the exports a server lists, each as "name\tdescription". */
    public static List<String> list(String host, int port) throws IOException {
        try (SocketChannel s = SocketChannel.open()) {
            s.socket().connect(new InetSocketAddress(host, port), 10_000);
            NbdClient c = new NbdClient(s);
            c.option(OPT_LIST, new byte[0]);
            List<String> names = new ArrayList<>();
            while (true) {
                OptionReply r = c.optionReply();
                if (r.type == REP_SERVER) {
                    ByteBuffer b = ByteBuffer.wrap(r.data);
                    int n = b.getInt();
                    String name = new String(r.data, 4, n, StandardCharsets.UTF_8);
                    String desc = new String(r.data, 4 + n, r.data.length - 4 - n, StandardCharsets.UTF_8);
                    names.add(desc.isEmpty() ? name : name + "\t" + desc);
                } else if (r.type == REP_ACK) {
                    c.option(OPT_ABORT, new byte[0]);
                    return names;
                } else {
                    throw new IOException("LIST refused: type " + Integer.toHexString(r.type));
                }
            }
        }
    }

    private record OptionReply(int type, byte[] data) {}

    private void option(int option, byte[] data) throws IOException {
        out.writeLong(IHAVEOPT);
        out.writeInt(option);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    private OptionReply optionReply() throws IOException {
        if (in.readLong() != OPT_REPLY_MAGIC) {
            throw new IOException("bad option reply magic");
        }
        in.readInt();
        int type = in.readInt();
        int len = in.readInt();
        if (len < 0 || len > MAX_OPTION_LENGTH) {
            throw new IOException("option reply too long: " + len);
        }
        byte[] data = new byte[len];
        in.readFully(data);
        return new OptionReply(type, data);
    }

    public long size() {
        return size;
    }

    public int transmissionFlags() {
        return transmissionFlags;
    }

    /** Sends one request and waits for its reply; returns the NBD error (0 = ok). READ data goes to {@code readInto}. */
    public int request(int type, int flags, long offset, int length, byte[] payload, byte[] readInto)
            throws IOException {
        long cookie = nextCookie++;
        out.writeInt(REQUEST_MAGIC);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(cookie);
        out.writeLong(offset);
        out.writeInt(length);
        if (payload != null) {
            out.write(payload);
        }
        out.flush();
        if (type == CMD_DISC) {
            return 0;
        }
        int error = replyHeader(cookie);
        if (error == 0 && type == CMD_READ) {
            in.readFully(readInto, 0, length);
        }
        return error;
    }

    /** Reads a simple reply header (one read call) and returns its error. */
    private int replyHeader(long cookie) throws IOException {
        byte[] h = new byte[16];
        in.readFully(h);
        ByteBuffer b = ByteBuffer.wrap(h);
        if (b.getInt() != SIMPLE_REPLY_MAGIC) {
            throw new IOException("bad reply magic");
        }
        int error = b.getInt();
        if (b.getLong() != cookie) {
            throw new IOException("reply cookie mismatch");
        }
        return error;
    }

    private void sendHeader(int type, int flags, long cookie, long offset, int length) throws IOException {
        out.flush();
        header.clear().putInt(REQUEST_MAGIC).putShort((short) flags).putShort((short) type).putLong(cookie)
                .putLong(offset).putInt(length).flip();
        while (header.hasRemaining()) {
            socket.write(header);
        }
    }

    /** READ straight into {@code dst} (at most 32 MiB). */
    public void readInto(long offset, MemorySegment dst) throws IOException {
        long cookie = nextCookie++;
        sendHeader(CMD_READ, 0, cookie, offset, (int) dst.byteSize());
        int err = replyHeader(cookie);
        if (err != 0) {
            throw new NbdException(err, "read failed");
        }
        ByteBuffer b = dst.asByteBuffer();
        while (b.hasRemaining()) {
            if (socket.read(b) < 0) {
                throw new EOFException();
            }
        }
    }

    /** WRITE straight from {@code src} (at most 32 MiB). */
    public void writeFrom(long offset, MemorySegment src, boolean fua) throws IOException {
        long cookie = nextCookie++;
        sendHeader(CMD_WRITE, fua ? CMD_FLAG_FUA : 0, cookie, offset, (int) src.byteSize());
        ByteBuffer b = src.asByteBuffer();
        while (b.hasRemaining()) {
            socket.write(b);
        }
        int err = replyHeader(cookie);
        if (err != 0) {
            throw new NbdException(err, "write failed");
        }
    }

    public byte[] read(long offset, int length) throws IOException {
        byte[] b = new byte[length];
        int err = request(CMD_READ, 0, offset, length, null, b);
        if (err != 0) {
            throw new NbdException(err, "read failed");
        }
        return b;
    }

    public void write(long offset, byte[] data, boolean fua) throws IOException {
        int err = request(CMD_WRITE, fua ? CMD_FLAG_FUA : 0, offset, data.length, data, null);
        if (err != 0) {
            throw new NbdException(err, "write failed");
        }
    }

    public void flush() throws IOException {
        int err = request(CMD_FLUSH, 0, 0, 0, null, null);
        if (err != 0) {
            throw new NbdException(err, "flush failed");
        }
    }

    // ---- pipelined mode -------------------------------------------------------------------

    private record Pending(MemorySegment dst, java.util.concurrent.CompletableFuture<Integer> done) {}

    private final java.util.concurrent.ConcurrentHashMap<Long, Pending> pending = new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.concurrent.locks.ReentrantLock sendLock = new java.util.concurrent.locks.ReentrantLock();
    private final java.util.concurrent.atomic.AtomicLong cookies = new java.util.concurrent.atomic.AtomicLong(1L << 32);
    private volatile Thread replyReader;
    private volatile IOException broken;

    /**
     * Switches to pipelined mode: from now on use only {@link #submit} (from any number of threads);
     * a reader thread completes each request's future with its NBD error when its reply arrives,
     * READ data going straight into the request's segment. Many requests are in flight at once.
     */
    public synchronized void startPipelining(String threadName) throws IOException {
        if (replyReader != null) {
            return;
        }
        out.flush();
        replyReader = Thread.ofPlatform().name(threadName).daemon().start(this::replyLoop);
    }

    /**
     * Sends one request (READ into {@code dst}, WRITE from {@code src}, or a command without payload)
     * and returns a future of its NBD error (0 = ok). Pipelined mode only; thread-safe.
     */
    public java.util.concurrent.CompletableFuture<Integer> submit(int type, int flags, long offset, int length,
                                                                MemorySegment src, MemorySegment dst) {
        var done = new java.util.concurrent.CompletableFuture<Integer>();
        if (broken != null) {
            done.completeExceptionally(broken);
            return done;
        }
        long cookie = cookies.getAndIncrement();
        pending.put(cookie, new Pending(dst, done));
        ByteBuffer h = ByteBuffer.allocate(28);
        h.putInt(REQUEST_MAGIC).putShort((short) flags).putShort((short) type).putLong(cookie).putLong(offset)
                .putInt(length).flip();
        sendLock.lock();
        try {
            ByteBuffer[] bufs = src == null ? new ByteBuffer[] {h} : new ByteBuffer[] {h, src.asByteBuffer()};
            long left = 28 + (src == null ? 0 : src.byteSize());
            while (left > 0) {
                left -= socket.write(bufs);
            }
        } catch (IOException e) {
            fail(e);
        } finally {
            sendLock.unlock();
        }
        return done;
    }

    private void replyLoop() {
        ByteBuffer h = ByteBuffer.allocate(16);
        try {
            while (true) {
                h.clear();
                while (h.hasRemaining()) {
                    if (socket.read(h) < 0) {
                        throw new EOFException("server closed the connection");
                    }
                }
                h.flip();
                if (h.getInt() != SIMPLE_REPLY_MAGIC) {
                    throw new IOException("bad reply magic");
                }
                int error = h.getInt();
                Pending p = pending.remove(h.getLong());
                if (p == null) {
                    throw new IOException("reply for an unknown cookie");
                }
                if (error == 0 && p.dst != null) {
                    ByteBuffer d = p.dst.asByteBuffer();
                    while (d.hasRemaining()) {
                        if (socket.read(d) < 0) {
                            throw new EOFException("server closed the connection mid-reply");
                        }
                    }
                }
                p.done.complete(error);
            }
        } catch (IOException e) {
            fail(e);
        } catch (RuntimeException e) {
            fail(new IOException("reply reader failed", e));
        }
    }

    /** The pipelined reply reader (READ segments passed to {@link #submit} must be accessible by it). */
    public Thread replyThread() {
        return replyReader;
    }

    private void fail(IOException e) {
        if (broken == null) {
            broken = e;
        }
        for (Long c : pending.keySet()) {
            Pending p = pending.remove(c);
            if (p != null) {
                p.done.completeExceptionally(e);
            }
        }
    }

    /** Sends NBD_CMD_DISC and closes. Idempotent. */
    @Override
    public void close() throws IOException {
        if (!socket.isOpen()) {
            return;
        }
        if (replyReader != null) {
            try {
                submit(CMD_DISC, 0, 0, 0, null, null);
            } finally {
                socket.close();
                try {
                    replyReader.join(5000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return;
        }
        try {
            request(CMD_DISC, 0, 0, 0, null, null);
        } catch (IOException ignored) {
            // the server may already be gone
        } finally {
            socket.close();
        }
    }
}
