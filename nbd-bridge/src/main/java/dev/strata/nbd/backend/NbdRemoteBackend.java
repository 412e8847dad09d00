package dev.strata.nbd.backend;

import dev.strata.nbd.Backend;
import dev.strata.nbd.NbdClient;
import dev.strata.nbd.NbdException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * A remote NBD export as a backend (e.g. remote memory served by another Strata node or nbdkit):
 * a pool of connections, one request in flight on each, so up to {@code connections} requests are
 * in flight together; requests over 32 MiB are split. FLUSH on sync.
 */
public final class NbdRemoteBackend implements Backend {
    private static final int MAX_REQUEST = 32 << 20;
    private final BlockingQueue<NbdClient> pool;
    private final long size;
    private volatile boolean closed;

    public NbdRemoteBackend(String host, int port, String export, int connections) throws IOException {
        pool = new ArrayBlockingQueue<>(connections);
        try {
            for (int i = 0; i < connections; i++) {
                pool.add(NbdClient.connect(host, port, export));
            }
        } catch (IOException e) {
            close();
            throw e;
        }
        size = pool.peek().size();
    }

    private NbdClient take() throws IOException {
        try {
            return pool.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void readAt(long offset, MemorySegment dst) throws IOException {
        for (long done = 0; done < dst.byteSize(); ) {
            int n = (int) Math.min(MAX_REQUEST, dst.byteSize() - done);
            NbdClient c = take();
            try {
                c.readInto(offset + done, dst.asSlice(done, n));
            } finally {
                pool.add(c);
            }
            done += n;
        }
    }

    @Override
    public void writeAt(long offset, MemorySegment src) throws IOException {
        for (long done = 0; done < src.byteSize(); ) {
            int n = (int) Math.min(MAX_REQUEST, src.byteSize() - done);
            NbdClient c = take();
            try {
                c.writeFrom(offset + done, src.asSlice(done, n), false);
            } finally {
                pool.add(c);
            }
            done += n;
        }
    }

    /** NBD_CMD_TRIM on the remote. */
    @Override
    public boolean trim(long offset, long length) throws IOException {
        return command(NbdClient.Command.TRIM, offset, length, false);
    }

    /** NBD_CMD_WRITE_ZEROES (with NBD_CMD_FLAG_FAST_ZERO when {@code fastOnly}) on the remote. */
    @Override
    public boolean zero(long offset, long length, boolean fastOnly) throws IOException {
        return command(NbdClient.Command.WRITE_ZEROES, offset, length, fastOnly);
    }

    private boolean command(NbdClient.Command cmd, long offset, long length, boolean fast) throws IOException {
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(1L << 30, length - done);
            NbdClient c = take();
            try {
                int err = c.command(cmd, offset + done, n, fast);
                if (err == dev.strata.nbd.internal.Proto.ENOTSUP && fast) {
                    return false;
                }
                if (err != 0) {
                    throw new NbdException(err, cmd + " failed on the remote");
                }
            } finally {
                pool.add(c);
            }
            done += n;
        }
        return true;
    }

    @Override
    public void sync() throws IOException {
        NbdClient c = take();
        try {
            c.flush();
        } catch (NbdException e) {
            throw new IOException("remote flush failed", e);
        } finally {
            pool.add(c);
        }
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        NbdClient c;
        while ((c = pool.poll()) != null) {
            c.close();
        }
    }
}
