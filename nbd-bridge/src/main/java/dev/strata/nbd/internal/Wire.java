package dev.strata.nbd.internal;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * The byte streams of one NBD connection, buffered, big-endian, replaceable by TLS streams after
 * STARTTLS. Not thread-safe: the handshake owns it, then {@link Transmission} splits input (reader
 * thread) from output ({@link ReplyWriter}).
 */
public final class Wire implements AutoCloseable {
    private static final int BUFFER = 256 * 1024;
    private Socket socket;
    private DataInputStream in;
    private DataOutputStream out;
    private boolean tls;

    public Wire(Socket socket) throws IOException {
        this.socket = socket;
        socket.setTcpNoDelay(true);
        attach();
    }

    private void attach() throws IOException {
        in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), BUFFER));
        out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), BUFFER));
    }

    /** Wraps the socket in TLS (server mode) and completes the TLS handshake. */
    void startTls(SSLContext context) throws IOException {
        out.flush();
        SSLSocket ssl = (SSLSocket) context.getSocketFactory()
                .createSocket(socket, socket.getInetAddress().getHostAddress(), socket.getPort(), true);
        ssl.setUseClientMode(false);
        ssl.startHandshake();
        socket = ssl;
        tls = true;
        attach();
    }

    boolean isTls() {
        return tls;
    }

    public DataInputStream in() {
        return in;
    }

    public DataOutputStream out() {
        return out;
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

    /** Reads a u32-length-prefixed UTF-8 string of at most {@code max} bytes from a bounded option body. */
    static String readString(DataInputStream in, int len) throws IOException {
        byte[] b = new byte[len];
        in.readFully(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        try {
            if (tls && !socket.isClosed()) {
                socket.setSoLinger(true, 1);
                out.flush();
                socket.shutdownOutput(); // TLS close_notify before the TCP close
            }
        } catch (IOException ignored) {
            // peer already gone
        }
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing a broken socket; nothing to report
        }
    }
}
