package dev.strata.nbd.mount;

import dev.strata.core.NativeMemory;
import dev.strata.nbd.Backend;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A managed mount: a local cache of a remote {@link Backend}, filled by background pullers and
 * drained by background pushers, itself a {@link Backend} (so it can be served over NBD).
 *
 * <pre>
 *   per chunk c:   present  bit  chunk is in the local cache (never cleared)
 *                  claimed  bit  one thread is filling c from the remote (the only writer of a
 *                                non-present chunk's local bytes)
 *                  dirty    bit  c changed since its last push began
 *                  pushing  bit  one push of c is in flight (pushes of one chunk never overlap)
 *                  gen[c]        write generation, bumped after every local write of c
 *                  pushed[c]     highest generation known to be on the remote
 *
 *   write:  copy into cache, gen[c]++, set dirty
 *   push:   claim pushing, clear dirty, g = gen[c], remote write from the cache, pushed[c] = max(pushed[c], g)
 *   flush:  targets = {c: gen[c] > pushed[c]}; push now; wait pushed[c] >= target; remote.sync()
 * </pre>
 * A write racing a push re-sets the dirty bit after the push cleared it and bumps gen past g, so it
 * is pushed again and a flush waits for it: no write is ever lost. Because the dirty bit is cleared
 * before the send, a write during the send re-dirties the chunk, so a torn image on the remote is
 * always followed by a complete one.
 */
public final class ManagedMount implements Backend {
    private final Backend remote;
    private final MountConfig config;
    private final long size;
    private final int chunk;
    private final long chunks;
    private final NativeMemory cache;
    private final MemorySegment local;
    private final AtomicBitmap present;
    private final AtomicBitmap claimed;
    private final AtomicBitmap dirty;
    private final AtomicBitmap pushing;
    private final AtomicLongArray gen;
    private final AtomicLongArray pushed;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final Condition pushNow = lock.newCondition();
    private final PullOrder pullOrder;
    private final AtomicLong pulledBytes = new AtomicLong();
    private final AtomicLong pushedBytes = new AtomicLong();
    private final AtomicLong pushErrors = new AtomicLong();
    private final AtomicLong urgent = new AtomicLong();
    private final List<Thread> workers = new ArrayList<>();
    private volatile IOException lastPushError;
    private volatile boolean closed;

    public ManagedMount(Backend remote, MountConfig config) {
        this.remote = remote;
        this.config = config;
        this.size = remote.size();
        this.chunk = config.chunkSize();
        this.chunks = (size + chunk - 1) / chunk;
        this.cache = NativeMemory.reserve(Math.max(chunks * chunk, 1));
        this.local = cache.segment();
        this.present = new AtomicBitmap(chunks);
        this.claimed = new AtomicBitmap(chunks);
        this.dirty = new AtomicBitmap(chunks);
        this.pushing = new AtomicBitmap(chunks);
        this.gen = new AtomicLongArray((int) chunks);
        this.pushed = new AtomicLongArray((int) chunks);
        this.pullOrder = new PullOrder(chunks, config.priority());
        for (int i = 0; i < config.pullWorkers(); i++) {
            workers.add(Thread.ofPlatform().name("nbd-mount-pull-" + i).daemon().start(this::pullLoop));
        }
        for (int i = 0; i < config.pushWorkers(); i++) {
            workers.add(Thread.ofPlatform().name("nbd-mount-push-" + i).daemon().start(this::pushLoop));
        }
    }

    /** Progress counters. */
    public record Stats(long chunks, long present, long dirty, long pulledBytes, long pushedBytes, long pushErrors) {}

    public Stats stats() {
        return new Stats(chunks, present.cardinality(), dirty.cardinality(), pulledBytes.get(), pushedBytes.get(),
                pushErrors.get());
    }

    @Override
    public long size() {
        return size;
    }

    private long chunkLength(long c) {
        return Math.min(chunk, size - c * chunk);
    }

    // ---- pull side -------------------------------------------------------------------------

    /** Makes chunks [first, last] present, fetching the ones nobody else is fetching. */
    private void ensurePresent(long first, long last, boolean demand) throws IOException {
        long runStart = -1;
        List<long[]> runs = null;
        for (long c = first; c <= last + 1; c++) {
            boolean mine = c <= last && claimMissing(c);
            if (mine && runStart < 0) {
                runStart = c;
            } else if (!mine && runStart >= 0) {
                (runs == null ? runs = new ArrayList<>() : runs).add(new long[] {runStart, c - 1});
                runStart = -1;
            }
        }
        if (runs != null) {
            for (long[] r : runs) {
                fetch(r[0], r[1]);
            }
            if (demand && config.readAhead() > 0) {
                for (long c = Math.min(chunks - 1, last + config.readAhead()); c > last; c--) {
                    pullOrder.boost(c);
                }
            }
        }
        for (long c = first; c <= last; c++) {
            if (!present.get(c)) {
                awaitPresent(c);
            }
        }
    }

    /** Claims chunk {@code c} if it is neither present nor claimed; true if this caller now holds the claim. */
    private boolean claimMissing(long c) {
        if (present.get(c) || !claimed.trySet(c)) {
            return false;
        }
        if (present.get(c)) { // installed between the two checks
            claimed.tryClear(c);
            return false;
        }
        return true;
    }

    /** Fetches claimed chunks [a, b] with one ranged remote read straight into the cache. */
    private void fetch(long a, long b) throws IOException {
        long off = a * chunk;
        long len = (b - a) * chunk + chunkLength(b);
        try {
            cache.populateWrite(off, len); // one call, not a page fault per 4 KiB inside the socket reads
            remote.readAt(off, local.asSlice(off, len));
        } catch (IOException | RuntimeException e) {
            for (long c = a; c <= b; c++) {
                claimed.tryClear(c);
            }
            signal();
            throw e;
        }
        for (long c = a; c <= b; c++) {
            present.trySet(c);
            claimed.tryClear(c);
        }
        pulledBytes.addAndGet(len);
        signal();
    }

    private void awaitPresent(long c) throws IOException {
        lock.lock();
        try {
            while (!present.get(c)) {
                if (!claimed.get(c)) { // the fetcher failed: try ourselves
                    lock.unlock();
                    try {
                        ensurePresent(c, c, true);
                    } finally {
                        lock.lock();
                    }
                    continue;
                }
                changed.await(10, TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } finally {
            lock.unlock();
        }
    }

    private void signal() {
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void pullLoop() {
        while (!closed) {
            // a worker claims each chunk as it picks it, so that two workers never pick from the same
            // batch between one's choice and its claim (which split batches into single-chunk reads)
            long c = pullOrder.next(this::claimMissing);
            if (c < 0) {
                return; // everything is present or claimed
            }
            long last = c;
            while (last + 1 < chunks && last - c + 1 < config.pullBatch() && claimMissing(last + 1)) {
                last++;
            }
            try {
                fetch(c, last);
            } catch (IOException | RuntimeException e) {
                if (closed) {
                    return;
                }
                pullOrder.retryLater(c);
            }
        }
    }

    // ---- Backend ---------------------------------------------------------------------------

    @Override
    public void readAt(long offset, MemorySegment dst) throws IOException {
        long len = dst.byteSize();
        if (len == 0) {
            return;
        }
        ensurePresent(offset / chunk, (offset + len - 1) / chunk, true);
        MemorySegment.copy(local, offset, dst, 0, len);
    }

    @Override
    public void writeAt(long offset, MemorySegment src) throws IOException {
        long len = src.byteSize();
        long done = 0;
        while (done < len) {
            long pos = offset + done;
            long c = pos / chunk;
            long n = Math.min(len - done, (c + 1) * chunk - pos);
            boolean whole = pos == c * chunk && n == chunkLength(c);
            if (!present.get(c)) {
                if (whole && claimed.trySet(c)) { // overwrite: no need to fetch the old bytes
                    MemorySegment.copy(src, done, local, pos, n);
                    markWritten(c);
                    present.trySet(c);
                    claimed.tryClear(c);
                    signal();
                    done += n;
                    continue;
                }
                ensurePresent(c, c, true);
            }
            MemorySegment.copy(src, done, local, pos, n);
            markWritten(c);
            done += n;
        }
    }

    private void markWritten(long c) {
        gen.incrementAndGet((int) c);
        dirty.trySet(c);
    }

    @Override
    public void writeDurable(long offset, MemorySegment src) throws IOException {
        writeAt(offset, src);
        barrier(offset / chunk, (offset + Math.max(src.byteSize(), 1) - 1) / chunk);
    }

    @Override
    public void sync() throws IOException {
        barrier(0, chunks - 1);
    }

    @Override
    public boolean trim(long offset, long length) throws IOException {
        return zero(offset, length, false);
    }

    @Override
    public void prefetch(long offset, long length) throws IOException {
        ensurePresent(offset / chunk, (offset + length - 1) / chunk, false);
    }

    // ---- push side -------------------------------------------------------------------------

    /** Returns once every write to chunks [a, b] completed before the call is on the remote. */
    private void barrier(long a, long b) throws IOException {
        if (chunks == 0) {
            return;
        }
        long[] targets = new long[(int) (b - a + 1)];
        boolean any = false;
        for (long c = a; c <= b; c++) {
            long g = gen.get((int) c);
            targets[(int) (c - a)] = g;
            any |= pushed.get((int) c) < g;
        }
        if (any) {
            long errors = pushErrors.get();
            urgent.incrementAndGet();
            lock.lock();
            try {
                pushNow.signalAll();
                for (long c = a; c <= b; c++) {
                    while (pushed.get((int) c) < targets[(int) (c - a)]) {
                        if (closed) {
                            throw new IOException("mount closed before flush completed");
                        }
                        if (pushErrors.get() != errors) {
                            throw new IOException("push to the remote failed; data not durable", lastPushError);
                        }
                        changed.await(10, TimeUnit.MILLISECONDS);
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            } finally {
                lock.unlock();
                urgent.decrementAndGet();
            }
        }
        remote.sync();
    }

    private void pushLoop() {
        // a pass starts after an interval (or a flush) unless the last one pushed: a worker that starts
        // after the first writes must not push them at once, ahead of the interval
        boolean pushedAny = false;
        while (!closed) {
            if (!pushedAny) {
                idle();
            }
            pushedAny = false;
            for (long c = dirty.nextSet(0); c >= 0 && !closed; c = dirty.nextSet(c + 1)) {
                if (!pushing.trySet(c)) {
                    continue; // another worker has it in flight; it stays dirty for the next pass
                }
                long last = c;
                while (last + 1 < chunks && last - c + 1 < config.pushBatch() && dirty.get(last + 1)
                        && pushing.trySet(last + 1)) {
                    last++;
                }
                push(c, last);
                pushedAny = true;
                c = last;
            }
        }
    }

    /** Waits for a flush or the push interval; during a flush only briefly (another worker is mid-push). */
    private void idle() {
        lock.lock();
        try {
            if (!closed) {
                long wait = urgent.get() > 0 ? TimeUnit.MILLISECONDS.toNanos(1) : config.pushInterval().toNanos();
                pushNow.await(wait, TimeUnit.NANOSECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
    }

    /** Pushes chunks [a, b], all held in the pushing bitmap by this thread. */
    private void push(long a, long b) {
        int n = (int) (b - a + 1);
        long[] g = new long[n];
        for (int i = 0; i < n; i++) {
            dirty.tryClear(a + i);
            g[i] = gen.get((int) (a + i));
        }
        long off = a * chunk;
        long len = (b - a) * chunk + chunkLength(b);
        try {
            // Sent straight from the cache: a write landing during the send re-dirtied the chunk after
            // g was read, so a torn copy on the remote is always followed by a complete one.
            remote.writeAt(off, local.asSlice(off, len));
            for (int i = 0; i < n; i++) {
                long gi = g[i];
                pushed.accumulateAndGet((int) (a + i), gi, Math::max);
            }
            pushedBytes.addAndGet(len);
        } catch (IOException | RuntimeException e) {
            pushErrors.incrementAndGet();
            lastPushError = e instanceof IOException io ? io : new IOException(e);
            for (int i = 0; i < n; i++) {
                dirty.trySet(a + i); // retry later
            }
        } finally {
            for (int i = 0; i < n; i++) {
                pushing.tryClear(a + i);
            }
            signal();
        }
    }

    /** Closes the mount: pushes what is dirty (best effort), stops workers, frees the cache. Idempotent. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        IOException failure = null;
        try {
            sync();
        } catch (IOException e) {
            failure = e;
        }
        closed = true;
        lock.lock();
        try {
            pushNow.signalAll();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        for (Thread t : workers) {
            try {
                t.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        cache.close();
        if (failure != null) {
            throw failure;
        }
    }
}
