package dev.strata.nbd.internal;

import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * The byte streams of one NBD connection. Plain TCP uses the {@link SocketChannel} directly: request
 * headers are parsed from a native read buffer, payloads are read straight into pooled native
 * buffers and replies leave with gathering writes from native memory (no heap copies, no temporary
 * direct buffers). After STARTTLS everything goes through the {@link SSLSocket}'s streams instead.
 *
 * <p>Threading: one reader (the connection thread) uses {@link #in()}, {@link #readInto} and
 * {@link #skip}; writers serialize on {@link ReplyWriter}; the handshake owns both sides first.
 */
public final class Wire implements AutoCloseable {
    /**
     * Read buffer: a burst of pipelined requests (headers and small write payloads, which go from here
     * straight to a non-blocking backend) costs one read syscall; a payload above a quarter of it is
     * read into a pooled buffer instead, so large payloads are not copied twice.
     * Tunables ({@code strata.nbd.inBuffer}, {@code .sndbuf}, {@code .rcvbuf}) are for A/B measurements.
     */
    private static final int IN_BUFFER = (int) tunable("strata.nbd.inBuffer", 256 * 1024, 64 * 1024, 64 << 20);
    private static final int SNDBUF = (int) tunable("strata.nbd.sndbuf", 0, 0, 256 << 20);
    private static final int RCVBUF = (int) tunable("strata.nbd.rcvbuf", 0, 0, 256 << 20);

    /**
     * A numeric system property within {@code [min, max]}, or {@code def} when unset; anything else
     * fails with a message naming the property (a typo must not silently fall back to the default).
     */
    public static long tunable(String name, long def, long min, long max) {
        String v = System.getProperty(name);
        if (v == null) {
            return def;
        }
        long n;
        try {
            n = Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("system property " + name + " must be a number in [" + min + ", "
                    + max + "], got '" + v + "'");
        }
        if (n < min || n > max) {
            throw new IllegalArgumentException("system property " + name + " must be in [" + min + ", " + max
                    + "], got " + n);
        }
        return n;
    }
    private final SocketChannel channel;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment inSegment;
    private final ByteBuffer inBuf;
    private final DataInputStream in;
    private DataOutputStream out;
    private SSLSocket tlsSocket;
    private InputStream tlsIn;
    private OutputStream tlsOut;
    private volatile boolean closed;

    public Wire(SocketChannel channel) throws IOException {
        this.channel = channel;
        channel.configureBlocking(true);
        channel.socket().setTcpNoDelay(true);
        if (SNDBUF > 0) {
            channel.socket().setSendBufferSize(SNDBUF);
        }
        if (RCVBUF > 0) {
            channel.socket().setReceiveBufferSize(RCVBUF);
        }
        inSegment = arena.allocate(IN_BUFFER, 4096);
        inBuf = inSegment.asByteBuffer();
        inBuf.flip(); // empty
        in = new DataInputStream(new In());
        out = new DataOutputStream(new BufferedOutputStream(Channels.newOutputStream(channel), 64 * 1024));
    }

    /** Fills inBuf from the channel; false at EOF. Plain mode only. */
    private boolean fill() throws IOException {
        inBuf.compact();
        try {
            return channel.read(inBuf) >= 0;
        } finally {
            inBuf.flip();
        }
    }

    /** Unbuffered view for DataInputStream: bytes come from inBuf (plain) or the TLS stream. */
    private final class In extends InputStream {
        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (tlsIn != null) {
                return tlsIn.read(b, off, len);
            }
            if (!inBuf.hasRemaining() && !fill()) {
                return -1;
            }
            int n = Math.min(len, inBuf.remaining());
            inBuf.get(b, off, n);
            return n;
        }
    }

    /** Wraps the connection in TLS (server mode) and completes the TLS handshake. */
    void startTls(SSLContext context) throws IOException {
        out.flush();
        if (inBuf.hasRemaining()) {
            throw new IOException("client sent data before the TLS handshake");
        }
        Socket s = channel.socket();
        SSLSocket ssl = (SSLSocket) context.getSocketFactory()
                .createSocket(s, s.getInetAddress().getHostAddress(), s.getPort(), true);
        ssl.setUseClientMode(false);
        ssl.startHandshake();
        tlsSocket = ssl;
        tlsIn = ssl.getInputStream();
        tlsOut = new BufferedOutputStream(ssl.getOutputStream(), 64 * 1024);
        out = new DataOutputStream(tlsOut);
    }

    boolean isTls() {
        return tlsSocket != null;
    }

    public DataInputStream in() {
        return in;
    }

    /** Handshake-phase output; flushed by the handshake before transmission starts. */
    public DataOutputStream out() {
        return out;
    }

    /** Bytes already read from the socket and not yet consumed (0 under TLS). */
    int buffered() {
        return tlsIn != null ? 0 : inBuf.remaining();
    }

    /** Native memory owned by this wire (freed by {@link #release}), for the reply writer's staging. */
    ByteBuffer allocate(int bytes) {
        return arena.allocate(bytes, 64).asByteBuffer();
    }

    /** Largest payload {@link #bufferedPayload} accepts (0 under TLS: there is no plain read buffer). */
    int maxBufferedPayload() {
        return tlsIn != null ? 0 : IN_BUFFER / 4;
    }

    /**
     * The next {@code len} bytes of the stream as a view of the read buffer (read as much as the
     * socket has, so the requests behind them usually come along), valid until the next read from
     * this wire. Nothing is consumed if the stream ends first. Plain mode, {@code len <=}
     * {@link #maxBufferedPayload()}.
     */
    MemorySegment bufferedPayload(int len) throws IOException {
        if (inBuf.remaining() < len) {
            if (inBuf.capacity() - inBuf.position() < len) {
                inBuf.compact().flip();
            }
            int pos = inBuf.position();
            inBuf.position(inBuf.limit()).limit(inBuf.capacity());
            try {
                while (inBuf.position() - pos < len) {
                    if (channel.read(inBuf) < 0) {
                        throw new EOFException();
                    }
                }
            } finally {
                inBuf.limit(inBuf.position()).position(pos);
            }
        }
        MemorySegment view = inSegment.asSlice(inBuf.position(), len);
        inBuf.position(inBuf.position() + len);
        return view;
    }

    /** Reads exactly {@code dst.byteSize()} bytes into {@code dst}. */
    void readInto(MemorySegment dst) throws IOException {
        long len = dst.byteSize();
        if (tlsIn != null) {
            byte[] tmp = new byte[(int) Math.min(len, 64 * 1024)];
            for (long done = 0; done < len; ) {
                int n = tlsIn.read(tmp, 0, (int) Math.min(tmp.length, len - done));
                if (n < 0) {
                    throw new EOFException();
                }
                MemorySegment.copy(tmp, 0, dst, ValueLayout.JAVA_BYTE, done, n);
                done += n;
            }
            return;
        }
        ByteBuffer target = dst.asByteBuffer();
        int buffered = Math.min(inBuf.remaining(), target.remaining());
        if (buffered > 0) {
            ByteBuffer part = inBuf.slice(inBuf.position(), buffered);
            target.put(part);
            inBuf.position(inBuf.position() + buffered);
        }
        while (target.hasRemaining()) {
            if (channel.read(target) < 0) {
                throw new EOFException();
            }
        }
    }

    /** Reads exactly {@code n} bytes and discards them, in bounded steps (no allocation of n). */
    void skip(long n) throws IOException {
        byte[] scratch = new byte[(int) Math.min(n, 64 * 1024)];
        while (n > 0) {
            int r = (int) Math.min(n, scratch.length);
            in.readFully(scratch, 0, r);
            n -= r;
        }
    }

    /** Writes every byte of {@code bufs[0..count)} (gathering write); caller serializes writers. */
    void write(ByteBuffer[] bufs, int count) throws IOException {
        if (tlsOut != null) {
            for (int i = 0; i < count; i++) {
                ByteBuffer b = bufs[i];
                byte[] tmp = new byte[Math.min(b.remaining(), 64 * 1024)];
                while (b.hasRemaining()) {
                    int n = Math.min(tmp.length, b.remaining());
                    b.get(tmp, 0, n);
                    tlsOut.write(tmp, 0, n);
                }
            }
            tlsOut.flush();
            return;
        }
        long remaining = 0;
        for (int i = 0; i < count; i++) {
            remaining += bufs[i].remaining();
        }
        int first = 0;
        while (remaining > 0) {
            remaining -= channel.write(bufs, first, count - first);
            while (first < count && !bufs[first].hasRemaining()) {
                first++;
            }
        }
    }

    /** Closes the connection (TLS close_notify first when TLS is active). Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (tlsSocket != null && !tlsSocket.isClosed()) {
                tlsSocket.setSoLinger(true, 1);
                tlsOut.flush();
                tlsSocket.shutdownOutput(); // TLS close_notify before the TCP close
            }
        } catch (IOException ignored) {
            // peer already gone
        }
        try {
            if (tlsSocket != null) {
                tlsSocket.close();
            }
            channel.close();
        } catch (IOException ignored) {
            // closing a broken socket; nothing to report
        }
        // the read buffer's arena is freed by the reader thread when it is done (see release())
    }

    /** Frees the native read buffer; called by the connection thread after its last read. */
    public void release() {
        close();
        arena.close();
    }
}
