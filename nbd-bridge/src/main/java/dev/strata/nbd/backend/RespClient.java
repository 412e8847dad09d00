package dev.strata.nbd.backend;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A minimal Redis client speaking RESP2 over one socket: commands as arrays of bulk strings,
 * replies parsed into String/Long/byte[]/List/{@link Error}. One command at a time (callers pool
 * connections); binary-safe. Reply sizes are bounded by {@code maxBulk}.
 *
 * <pre>
 *   request:  *N\r\n  $len\r\n bytes \r\n ... (N bulk strings)
 *   replies:  +OK\r\n | -ERR msg\r\n | :42\r\n | $len\r\n bytes\r\n | $-1\r\n | *N\r\n ...
 * </pre>
 */
final class RespClient implements AutoCloseable {
    /** An error reply. */
    record Error(String message) {}

    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    private final int maxBulk;

    RespClient(String host, int port, int maxBulk) throws IOException {
        socket = new Socket();
        socket.connect(new InetSocketAddress(host, port), 10_000);
        socket.setTcpNoDelay(true);
        in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 1 << 16));
        out = new BufferedOutputStream(socket.getOutputStream(), 1 << 16);
        this.maxBulk = maxBulk;
    }

    /** Sends a command (arguments are byte[] or String) and returns its reply. */
    Object call(List<?> args) throws IOException {
        writeArrayHeader(args.size());
        for (Object a : args) {
            byte[] b = a instanceof byte[] bytes ? bytes : a.toString().getBytes(StandardCharsets.UTF_8);
            writeBulk(b, 0, b.length);
        }
        out.flush();
        return reply();
    }

    void writeArrayHeader(int n) throws IOException {
        out.write(('*' + Integer.toString(n) + "\r\n").getBytes(StandardCharsets.US_ASCII));
    }

    void writeBulk(byte[] b, int off, int len) throws IOException {
        out.write(('$' + Integer.toString(len) + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(b, off, len);
        out.write('\r');
        out.write('\n');
    }

    void flush() throws IOException {
        out.flush();
    }

    Object reply() throws IOException {
        int type = in.read();
        String line = line();
        switch (type) {
            case '+' -> {
                return line;
            }
            case '-' -> {
                return new Error(line);
            }
            case ':' -> {
                return Long.parseLong(line);
            }
            case '$' -> {
                int len = Integer.parseInt(line);
                if (len < 0) {
                    return null;
                }
                if (len > maxBulk) {
                    throw new IOException("bulk reply of " + len + " bytes exceeds " + maxBulk);
                }
                byte[] b = new byte[len];
                in.readFully(b);
                in.skipNBytes(2);
                return b;
            }
            case '*' -> {
                int n = Integer.parseInt(line);
                if (n < 0) {
                    return null;
                }
                List<Object> items = new ArrayList<>(Math.min(n, 1024));
                for (int i = 0; i < n; i++) {
                    items.add(reply());
                }
                return items;
            }
            default -> throw new IOException("bad RESP reply type " + type);
        }
    }

    private String line() throws IOException {
        StringBuilder sb = new StringBuilder();
        int c;
        while ((c = in.read()) != '\r') {
            if (c < 0 || sb.length() > 4096) {
                throw new IOException("bad RESP line");
            }
            sb.append((char) c);
        }
        in.read();
        return sb.toString();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
