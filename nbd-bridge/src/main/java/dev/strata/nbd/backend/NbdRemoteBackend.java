package dev.strata.nbd.backend;

import static dev.strata.nbd.internal.Proto.*;

import dev.strata.nbd.Backend;
import dev.strata.nbd.NbdClient;
import dev.strata.nbd.NbdException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A remote NBD export as a backend (remote memory served by another Strata node, nbdkit, ...): a few
 * connections in pipelined mode, requests spread round-robin, any number in flight on each; replies
 * land straight in the caller's segments. Requests over 32 MiB are split and sent together.
 * TRIM and WRITE_ZEROES are forwarded; sync is an NBD FLUSH (multi-conn: it covers every write
 * already answered on any connection).
 */
public final class NbdRemoteBackend implements Backend {
    private static final int MAX_REQUEST = 32 << 20;
    private final List<NbdClient> connections = new ArrayList<>();
    private final AtomicInteger next = new AtomicInteger();
    private final long size;
    private volatile boolean closed;

    public NbdRemoteBackend(String host, int port, String export, int connections) throws IOException {
        try {
            for (int i = 0; i < connections; i++) {
                NbdClient c = NbdClient.connect(host, port, export);
                c.startPipelining("nbd-remote-" + port + "-" + i);
                this.connections.add(c);
            }
        } catch (IOException e) {
            close();
            throw e;
        }
        size = this.connections.get(0).size();
    }

    private NbdClient pick() {
        return connections.get(Math.floorMod(next.getAndIncrement(), connections.size()));
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void readAt(long offset, MemorySegment dst) throws IOException {
        if (!dst.isAccessibleBy(connections.get(0).replyThread())) { // confined to the caller: bounce
            MemorySegment tmp = MemorySegment.ofArray(new byte[(int) dst.byteSize()]);
            readAt(offset, tmp);
            MemorySegment.copy(tmp, 0, dst, 0, dst.byteSize());
            return;
        }
        List<CompletableFuture<Integer>> fs = new ArrayList<>();
        for (long done = 0; done < dst.byteSize(); done += MAX_REQUEST) {
            int n = (int) Math.min(MAX_REQUEST, dst.byteSize() - done);
            fs.add(pick().submit(CMD_READ, 0, offset + done, n, null, dst.asSlice(done, n)));
        }
        await(fs, "read");
    }

    @Override
    public void writeAt(long offset, MemorySegment src) throws IOException {
        write(offset, src, 0);
    }

    @Override
    public void writeDurable(long offset, MemorySegment src) throws IOException {
        write(offset, src, CMD_FLAG_FUA);
    }

    private void write(long offset, MemorySegment src, int flags) throws IOException {
        List<CompletableFuture<Integer>> fs = new ArrayList<>();
        for (long done = 0; done < src.byteSize(); done += MAX_REQUEST) {
            int n = (int) Math.min(MAX_REQUEST, src.byteSize() - done);
            fs.add(pick().submit(CMD_WRITE, flags, offset + done, n, src.asSlice(done, n), null));
        }
        await(fs, "write");
    }

    /** NBD_CMD_TRIM on the remote. */
    @Override
    public boolean trim(long offset, long length) throws IOException {
        return command(CMD_TRIM, 0, offset, length);
    }

    /** NBD_CMD_WRITE_ZEROES (with NBD_CMD_FLAG_FAST_ZERO when {@code fastOnly}) on the remote. */
    @Override
    public boolean zero(long offset, long length, boolean fastOnly) throws IOException {
        return command(CMD_WRITE_ZEROES, fastOnly ? CMD_FLAG_FAST_ZERO : 0, offset, length);
    }

    private boolean command(int type, int flags, long offset, long length) throws IOException {
        List<CompletableFuture<Integer>> fs = new ArrayList<>();
        for (long done = 0; done < length; done += 1L << 30) {
            fs.add(pick().submit(type, flags, offset + done, (int) Math.min(1L << 30, length - done), null, null));
        }
        try {
            await(fs, "command " + type);
            return true;
        } catch (NbdException e) {
            if (e.errno() == ENOTSUP && (flags & CMD_FLAG_FAST_ZERO) != 0) {
                return false;
            }
            throw e;
        }
    }

    @Override
    public void sync() throws IOException {
        await(List.of(pick().submit(CMD_FLUSH, 0, 0, 0, null, null)), "flush");
    }

    private static void await(List<CompletableFuture<Integer>> fs, String what) throws IOException {
        int error = 0;
        IOException failure = null;
        for (CompletableFuture<Integer> f : fs) {
            try {
                int e = f.get();
                error = error != 0 ? error : e;
            } catch (ExecutionException e) {
                failure = failure != null ? failure
                        : e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
        if (failure != null) {
            throw new IOException("remote " + what + " failed", failure);
        }
        if (error != 0) {
            throw new NbdException(error, "remote " + what + " failed");
        }
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        for (NbdClient c : connections) {
            c.close();
        }
    }
}
