package dev.strata.nbd.backend;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * One Redis string per chunk, key {@code <prefix>:<hex chunk>}; a missing key reads as zeros. A
 * run of chunks is one MGET / MSET / DEL (one round trip). Connections come from a fixed pool; a
 * connection that failed mid-command is dropped and replaced.
 */
public final class RedisChunkStore implements ChunkStore {
    private final String host;
    private final int port;
    private final String prefix;
    private final int chunkSize;
    private final long chunks;
    private final BlockingQueue<RespClient> pool;
    private volatile boolean closed;

    public RedisChunkStore(String host, int port, String prefix, int chunkSize, long chunks, int connections)
            throws IOException {
        this.host = host;
        this.port = port;
        this.prefix = prefix;
        this.chunkSize = chunkSize;
        this.chunks = chunks;
        this.pool = new ArrayBlockingQueue<>(connections);
        for (int i = 0; i < connections; i++) {
            pool.add(new RespClient(host, port, chunkSize));
        }
        Object pong = call(List.of("PING"));
        if (!"PONG".equals(pong)) {
            throw new IOException("redis at " + host + ":" + port + " answered " + pong);
        }
    }

    private String key(long chunk) {
        return prefix + ":" + Long.toHexString(chunk);
    }

    @Override
    public int chunkSize() {
        return chunkSize;
    }

    @Override
    public long chunks() {
        return chunks;
    }

    private Object call(List<?> args) throws IOException {
        RespClient c;
        try {
            c = pool.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        boolean ok = false;
        try {
            Object r = c.call(args);
            ok = true;
            if (r instanceof RespClient.Error err) {
                throw new IOException("redis: " + err.message());
            }
            return r;
        } finally {
            if (ok) {
                pool.add(c);
            } else {
                c.close();
                if (!closed) {
                    pool.add(new RespClient(host, port, chunkSize));
                }
            }
        }
    }

    @Override
    public void read(long first, int count, MemorySegment dst) throws IOException {
        List<Object> args = new ArrayList<>(count + 1);
        args.add("MGET");
        for (int i = 0; i < count; i++) {
            args.add(key(first + i));
        }
        List<?> values = (List<?>) call(args);
        for (int i = 0; i < count; i++) {
            MemorySegment part = dst.asSlice((long) i * chunkSize, chunkSize);
            if (values.get(i) instanceof byte[] b) {
                int n = Math.min(b.length, chunkSize);
                MemorySegment.copy(b, 0, part, ValueLayout.JAVA_BYTE, 0, n);
                part.asSlice(n).fill((byte) 0);
            } else {
                part.fill((byte) 0);
            }
        }
    }

    @Override
    public void write(long first, int count, MemorySegment src) throws IOException {
        List<Object> args = new ArrayList<>(2 * count + 1);
        args.add("MSET");
        for (int i = 0; i < count; i++) {
            args.add(key(first + i));
            args.add(src.asSlice((long) i * chunkSize, chunkSize).toArray(ValueLayout.JAVA_BYTE));
        }
        call(args);
    }

    @Override
    public void delete(long first, int count) throws IOException {
        List<Object> args = new ArrayList<>(count + 1);
        args.add("DEL");
        for (int i = 0; i < count; i++) {
            args.add(key(first + i));
        }
        call(args);
    }

    /** Acknowledged writes are in the server's memory; persistence is the server's configuration. */
    @Override
    public void sync() {}

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        RespClient c;
        while ((c = pool.poll()) != null) {
            c.close();
        }
    }
}
