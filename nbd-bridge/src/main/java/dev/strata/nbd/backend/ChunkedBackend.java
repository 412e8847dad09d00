package dev.strata.nbd.backend;

import dev.strata.nbd.Backend;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The chunking layer: turns byte-granular requests into aligned chunk I/O on a {@link ChunkStore}.
 *
 * <pre>
 *  request      |---------------------------|
 *  chunks   |  head  |   full   |   full   |  tail  |
 *           read-modify-write    one store call for the whole run
 * </pre>
 * A request covering chunks c..d becomes one {@code read(c, n)} / {@code write(c, n)} per batch of at
 * most {@code maxBatch} chunks. Partial head and tail chunks are read-modify-written under a striped
 * per-chunk lock so two sub-chunk writes to one chunk never lose each other. Chunk size is
 * independent of the NBD block size.
 */
public final class ChunkedBackend implements Backend {
    private static final int STRIPES = 1024;
    private final ChunkStore store;
    private final long size;
    private final int chunk;
    private final int maxBatch;
    private final ReentrantLock[] stripes = new ReentrantLock[STRIPES];

    public ChunkedBackend(ChunkStore store, long size) {
        if (size > store.chunks() * store.chunkSize()) {
            throw new IllegalArgumentException("size exceeds the chunk store");
        }
        this.store = store;
        this.size = size;
        this.chunk = store.chunkSize();
        this.maxBatch = Math.max(1, (64 << 20) / chunk);
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new ReentrantLock();
        }
    }

    public ChunkStore store() {
        return store;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void readAt(long offset, MemorySegment dst) throws IOException {
        long len = dst.byteSize();
        long done = 0;
        while (done < len) {
            long pos = offset + done;
            long first = pos / chunk;
            long last = Math.min((offset + len - 1) / chunk, first + maxBatch - 1);
            int count = (int) (last - first + 1);
            long runStart = first * chunk;
            long n = Math.min(len - done, (last + 1) * chunk - pos);
            if (pos == runStart && n == (long) count * chunk) {
                store.read(first, count, dst.asSlice(done, n));
            } else {
                MemorySegment tmp = MemorySegment.ofArray(new byte[count * chunk]);
                store.read(first, count, tmp);
                MemorySegment.copy(tmp, pos - runStart, dst, done, n);
            }
            done += n;
        }
    }

    @Override
    public void writeAt(long offset, MemorySegment src) throws IOException {
        long len = src.byteSize();
        long done = 0;
        while (done < len) {
            long pos = offset + done;
            long first = pos / chunk;
            long last = Math.min((offset + len - 1) / chunk, first + maxBatch - 1);
            int count = (int) (last - first + 1);
            long runStart = first * chunk;
            long n = Math.min(len - done, (last + 1) * chunk - pos);
            if (pos == runStart && n == (long) count * chunk) {
                store.write(first, count, src.asSlice(done, n));
            } else {
                rmw(first, last, count, pos - runStart, src.asSlice(done, n));
            }
            done += n;
        }
    }

    /** Read-modify-write of a run whose head and/or tail chunk is partial. */
    private void rmw(long first, long last, int count, long at, MemorySegment data) throws IOException {
        int ia = (int) (first % STRIPES);
        int ib = (int) (last % STRIPES);
        ReentrantLock lo = stripes[Math.min(ia, ib)]; // fixed order: no lock-order deadlock
        ReentrantLock hi = stripes[Math.max(ia, ib)];
        lo.lock();
        if (hi != lo) {
            hi.lock();
        }
        try {
            MemorySegment tmp = MemorySegment.ofArray(new byte[count * chunk]);
            if (at > 0) {
                store.read(first, 1, tmp.asSlice(0, chunk));
            }
            long end = at + data.byteSize();
            if (end < (long) count * chunk && (count > 1 || at == 0)) {
                store.read(last, 1, tmp.asSlice((long) (count - 1) * chunk, chunk));
            }
            MemorySegment.copy(data, 0, tmp, at, data.byteSize());
            store.write(first, count, tmp);
        } finally {
            if (hi != lo) {
                hi.unlock();
            }
            lo.unlock();
        }
    }

    @Override
    public void sync() throws IOException {
        store.sync();
    }

    @Override
    public boolean trim(long offset, long length) throws IOException {
        return zero(offset, length, false);
    }

    @Override
    public boolean zero(long offset, long length, boolean fastOnly) throws IOException {
        long end = offset + length;
        long firstFull = (offset + chunk - 1) / chunk;
        long lastFullEnd = end / chunk; // exclusive
        if (firstFull >= lastFullEnd) {
            if (fastOnly) {
                return false;
            }
            writeAt(offset, MemorySegment.ofArray(new byte[(int) length]));
            return true;
        }
        if (offset < firstFull * chunk) {
            writeAt(offset, MemorySegment.ofArray(new byte[(int) (firstFull * chunk - offset)]));
        }
        for (long c = firstFull; c < lastFullEnd; c += maxBatch) {
            store.delete(c, (int) Math.min(maxBatch, lastFullEnd - c));
        }
        if (end > lastFullEnd * chunk) {
            writeAt(lastFullEnd * chunk, MemorySegment.ofArray(new byte[(int) (end - lastFullEnd * chunk)]));
        }
        return true;
    }

    @Override
    public void close() throws IOException {
        store.close();
    }
}
